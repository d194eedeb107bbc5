//! Op → kernel lowering: one arm per [`Op`], no catch-all. Matrix ops (weights read in their
//! stored dtype) are in `lower_matrix.rs`; this file has the rest. Each arm checks what the
//! kernels assume, picks buffers and records launches whose parameters follow the shaders'
//! `struct Params` field by field.

use lingot_ir::exec::BackendError;
use lingot_ir::{Bindings, Dim, NodeId, Op, Shape, Value};

use crate::kernels::{Binary, Kernel, Unary, MAT_VEC_ROWS, MAX_GROUPS, ROUTER_MAX_E, ROUTER_MAX_K};
use crate::pipelines::{grid, grid_items, Params};
use crate::plan::{count, Loc, PlanInput, Planner};
use crate::weights::{ViewOp, WeightView};

const WG: u32 = 64;

/// The bound size of the last dim and the number of rows before it.
fn rows_cols(s: &Shape, b: &Bindings) -> (usize, usize) {
    let d = s.bind(b);
    let n = d.last().copied().unwrap_or(1);
    (d.iter().product::<usize>() / n.max(1), n)
}

/// Collapses a broadcast of `a` and `b` to `out` into at most four dims (outermost first) with
/// element strides (0 along broadcast dims): drops dims of size 1, merges neighbours that are
/// contiguous in both operands. `None` if more than four dims remain.
pub fn broadcast4(a: &[usize], b: &[usize], out: &[usize]) -> Option<([usize; 4], [usize; 4], [usize; 4])> {
    let n = out.len();
    let strides = |s: &[usize]| -> Vec<usize> {
        let p: Vec<usize> = std::iter::repeat_n(1, n - s.len()).chain(s.iter().copied()).collect();
        let mut st = vec![0; n];
        let mut acc = 1;
        for d in (0..n).rev() {
            st[d] = if p[d] == 1 { 0 } else { acc };
            acc *= p[d];
        }
        st
    };
    let (sa, sb) = (strides(a), strides(b));
    // (size, a stride, b stride), innermost first
    let mut dims: Vec<(usize, usize, usize)> = vec![];
    for d in (0..n).rev() {
        if out[d] == 1 {
            continue;
        }
        match dims.last_mut() {
            Some(l) if sa[d] == l.1 * l.0 && sb[d] == l.2 * l.0 => l.0 *= out[d],
            _ => dims.push((out[d], sa[d], sb[d])),
        }
    }
    if dims.len() > 4 {
        return None;
    }
    let (mut o, mut x, mut y) = ([1; 4], [0; 4], [0; 4]);
    for (i, (s, p, q)) in dims.into_iter().enumerate() {
        o[3 - i] = s;
        x[3 - i] = p;
        y[3 - i] = q;
    }
    Some((o, x, y))
}

/// A folded norm read by an op that takes it only as a buffer (the fold's conditions exclude it).
const FOLDED_NORM_READER: &str = "internal: a folded rms_norm_mul reaches a reader that cannot fold it";

impl Planner<'_, '_> {
    pub fn lower_node(&mut self, id: NodeId) -> Result<(), BackendError> {
        let node = self.graph.node(id);
        let ops = self.graph.operands(id);
        let out_ty = node.results[0].clone();
        let shape = out_ty.shape.clone();
        if let Some(router) = self.routed_logits(id) {
            // router logits computed by the router's launch (decode), which reads x then
            self.hold_until(ops[1], router);
            return Ok(());
        }
        match &node.op {
            Op::Input { name } => {
                let buffer = self.dedicated(4 * count(&shape, &self.cap) as u64, &format!("input {name}"))?;
                self.inputs.push(PlanInput {
                    name: name.clone(),
                    ty: out_ty,
                    buffer: buffer.clone(),
                    id_limit: None,
                    upload: 0,
                });
                self.define(0, Loc::Act { buffer, pool: None });
            }
            Op::Weight { name } => {
                let dims: Option<Vec<usize>> = shape.dims().iter().map(|d| d.as_const()).collect();
                let dims = dims.ok_or_else(|| self.err("a weight's shape must be constant"))?;
                self.weights.check(name, out_ty.dtype, &dims)?;
                let view = WeightView {
                    name: name.clone(),
                    dtype: out_ty.dtype,
                    shape: dims,
                    ops: vec![],
                };
                self.define(0, Loc::Weight(view));
            }
            // a shared expert folded into the routed experts' kernels (decode)
            Op::GateUp | Op::MulMat if self.shared_fold(id).is_some() => {}
            Op::GetRows => self.get_rows(&ops)?,
            Op::MulMat => self.mul_mat(&ops)?,
            Op::MulMatId => self.mul_mat_id(&ops)?,
            Op::MoeGateUp => self.moe_gate_up(&ops)?,
            Op::MoeDown => self.moe_down(&ops)?,
            Op::MulMatAdd => self.mul_mat(&ops)?,
            Op::GateUp => self.gate_up(&ops)?,
            Op::QkvNormRope {
                heads,
                kv_heads,
                eps,
                n_rot,
                freq_base,
                freq_scale,
                k_cache,
                v_cache,
            } => {
                let rope = (*n_rot, *freq_base, *freq_scale);
                self.qkv_norm_rope(&ops, (*heads, *kv_heads), *eps, rope, (k_cache, v_cache))?
            }
            Op::Add => self.binary(Binary::Add, ops[0], ops[1])?,
            Op::Mul => self.binary(Binary::Mul, ops[0], ops[1])?,
            Op::Div => self.binary(Binary::Div, ops[0], ops[1])?,
            Op::SwiGlu => self.binary(Binary::SwiGlu, ops[0], ops[1])?,
            Op::Scale { factor, bias } => self.unary(Unary::Scale, ops[0], *factor, *bias)?,
            Op::Silu => self.unary(Unary::Silu, ops[0], 0.0, 0.0)?,
            Op::Sigmoid => self.unary(Unary::Sigmoid, ops[0], 0.0, 0.0)?,
            Op::SoftMax => {
                let x = self.act(ops[0])?;
                let out = self.out(0)?;
                self.push(
                    Kernel::SoftMax,
                    vec![x, out],
                    Box::new(move |b| {
                        let (rows, n) = rows_cols(&shape, b);
                        (Params::new().u(rows).u(n), grid(rows))
                    }),
                )?;
            }
            Op::RmsNorm { eps } => self.rms_norm(ops[0], None, *eps)?,
            Op::RmsNormMul { eps } => {
                if self.folds_norm(id) {
                    let (x, pool) = match self.loc(ops[0])? {
                        Loc::Act { buffer, pool } => (buffer, pool),
                        _ => (self.act(ops[0])?, None),
                    };
                    let w = self.act(ops[1])?;
                    let shape = self.ty(ops[0]).shape.clone();
                    self.define(
                        0,
                        Loc::Normed {
                            x,
                            pool,
                            w,
                            eps: *eps,
                            shape,
                        },
                    );
                } else {
                    self.rms_norm(ops[0], Some(ops[1]), *eps)?
                }
            }
            Op::Rope {
                n_rot,
                freq_base,
                freq_scale,
            } => self.rope(&ops, *n_rot, *freq_base, *freq_scale)?,
            Op::Argsort { descending } => {
                let x = self.act(ops[0])?;
                let out = self.out(0)?;
                self.push(
                    Kernel::Argsort {
                        descending: *descending,
                    },
                    vec![x, out],
                    Box::new(move |b| {
                        let (rows, n) = rows_cols(&shape, b);
                        (Params::new().u(rows).u(n), grid(rows))
                    }),
                )?;
            }
            Op::TopK { k } => {
                let in_shape = self.ty(ops[0]).shape.clone();
                let x = self.act(ops[0])?;
                let out = self.out(0)?;
                let k = *k;
                self.push(
                    Kernel::TopK,
                    vec![x, out],
                    Box::new(move |b| {
                        let (rows, n) = rows_cols(&in_shape, b);
                        (Params::new().u(rows).u(n).u(k), grid(rows))
                    }),
                )?;
            }
            Op::GroupMask { groups, keep } => {
                if *groups > MAX_GROUPS {
                    return Err(self.err(format!("{groups} groups; the kernel handles up to {MAX_GROUPS}")));
                }
                let x = self.act(ops[0])?;
                let out = self.out(0)?;
                let (groups, keep) = (*groups, *keep);
                self.push(
                    Kernel::GroupMask,
                    vec![x, out],
                    Box::new(move |b| {
                        let (rows, e) = rows_cols(&shape, b);
                        (Params::new().u(rows).u(e).u(groups).u(keep), grid(rows))
                    }),
                )?;
            }
            Op::Gather => {
                let xs = self.ty(ops[0]).shape.clone();
                let x = self.act(ops[0])?;
                let idx = self.act(ops[1])?;
                let out = self.out(0)?;
                self.push(
                    Kernel::Gather,
                    vec![x, idx, out],
                    Box::new(move |b| {
                        let (rows, k) = rows_cols(&shape, b);
                        let n = rows_cols(&xs, b).1;
                        (Params::new().u(rows).u(n).u(k), grid_items(rows * k, WG))
                    }),
                )?;
            }
            Op::Sum { axis } => {
                let xs = self.ty(ops[0]).shape.clone();
                let x = self.act(ops[0])?;
                let out = self.out(0)?;
                let axis = *axis;
                self.push(
                    Kernel::Sum,
                    vec![x, out],
                    Box::new(move |b| {
                        let d = xs.bind(b);
                        let outer: usize = d[..axis].iter().product();
                        let inner: usize = d[axis + 1..].iter().product();
                        (
                            Params::new().u(outer).u(d[axis]).u(inner),
                            grid_items(outer * inner, WG),
                        )
                    }),
                )?;
            }
            Op::Reshape { .. } => match self.loc(ops[0])? {
                Loc::Act { .. } => {
                    let loc = self.loc(ops[0])?;
                    self.define(0, loc);
                }
                Loc::Weight(mut view) => {
                    let dims: Option<Vec<usize>> = shape.dims().iter().map(|d| d.as_const()).collect();
                    let dims = dims.ok_or_else(|| self.err("a reshaped weight's shape must be constant"))?;
                    view.ops.push(ViewOp::Reshape(dims.clone()));
                    view.shape = dims;
                    self.define(0, Loc::Weight(view));
                }
                Loc::Normed { .. } => return Err(self.err(FOLDED_NORM_READER)),
            },
            Op::Slice { axis, start, len } => self.slice(ops[0], *axis, *start, *len)?,
            Op::KvWrite { cache } => self.kv_write(ops[0], cache)?,
            Op::Attention { scale } => self.attention(&ops, *scale)?,
            Op::MoeRouter {
                groups,
                keep,
                k,
                norm,
                scale,
            } => self.moe_router(&ops, (*groups, *keep, *k), *norm, *scale)?,
        }
        Ok(())
    }

    /// The logits `mul_mat` that `moe_router` node `id` computes in its own launch in this plan:
    /// where `lingot_passes::stats::router_fold` finds one (the launch count it models), in a
    /// decode step, with the weight in one buffer, on a device whose workgroups can hand results
    /// to the last of them (`Gpu::merge_in_kernel`: Vulkan).
    fn router_fold(&self, id: NodeId) -> Option<NodeId> {
        if self.cap.t != 1 || !self.gpu.merge_in_kernel {
            return None;
        }
        let logits = lingot_passes::stats::router_fold(self.graph, id)?;
        self.fits_one_buffer(self.graph.operands(logits)[0]).then_some(logits)
    }

    /// The router whose [`Self::router_fold`] takes `mul_mat` node `id` as its logits.
    fn routed_logits(&self, id: NodeId) -> Option<NodeId> {
        match self.graph.users(id).as_slice() {
            [r] if self.router_fold(*r) == Some(id) => Some(*r),
            _ => None,
        }
    }

    /// `moe_router`: sigmoid scores, grouped top-k choice and weights, one workgroup a token
    /// (moe_router.wgsl); in a decode step whose router logits fold ([`Self::router_fold`]), the
    /// logits' product and the choice in one launch (moe_route.wgsl).
    fn moe_router(
        &mut self,
        ops: &[Value],
        (groups, keep, k): (usize, usize, usize),
        norm: bool,
        scale: f32,
    ) -> Result<(), BackendError> {
        let e = self.ty(ops[0]).shape.dims()[1].as_const().unwrap_or(usize::MAX);
        if e > ROUTER_MAX_E || groups > MAX_GROUPS || k > ROUTER_MAX_K || k > e {
            return Err(self.err(format!(
                "{k} of {e} experts in {groups} groups; the kernel chooses up to {ROUTER_MAX_K} of \
                 {ROUTER_MAX_E} in {MAX_GROUPS}"
            )));
        }
        let bias = self.act(ops[1])?;
        if let Some(logits) = self.router_fold(self.node) {
            let [w, x]: [Value; 2] = self
                .graph
                .operands(logits)
                .try_into()
                .map_err(|_| self.err("internal: router logits"))?;
            let kx = self.ty(w).shape.dims()[1].as_const().unwrap_or(0);
            let w = self.weight_buffer(w)?;
            let (x, x_norm) = self.act_or_normed(x)?;
            let (folded, eps) = (x_norm.is_some(), x_norm.as_ref().map_or(0.0, |n| n.1));
            let nw = x_norm.map_or_else(|| x.clone(), |n| n.0);
            let scratch = self.temp(e)?;
            let counter = self.dedicated(4, "moe_route counter")?;
            let ids = self.out(0)?;
            let weights = self.out(1)?;
            return self.push_counted(
                Kernel::MoeRoute,
                vec![w, x, nw, bias, scratch, counter, ids, weights],
                Box::new(move |_| {
                    let p = Params::new().u(kx).u(e).u(groups).u(keep).u(k).flag(norm).f(scale);
                    (p.flag(folded).f(eps), grid(e.div_ceil(MAT_VEC_ROWS)))
                }),
                Box::new(move |_| (4 * (e * kx + kx)) as u64),
            );
        }
        let logits = self.act(ops[0])?;
        let ids = self.out(0)?;
        let weights = self.out(1)?;
        let in_shape = self.ty(ops[0]).shape.clone();
        self.push(
            Kernel::MoeRouter,
            vec![logits, bias, ids, weights],
            Box::new(move |b| {
                let (rows, e) = rows_cols(&in_shape, b);
                let p = Params::new().u(rows).u(e).u(groups).u(keep).u(k).flag(norm).f(scale);
                (p, grid(rows))
            }),
        )
    }

    fn unary(&mut self, op: Unary, x: Value, factor: f32, bias: f32) -> Result<(), BackendError> {
        let shape = self.ty(x).shape.clone();
        let xb = self.act(x)?;
        let out = self.out(0)?;
        self.push(
            Kernel::Unary(op),
            vec![xb, out],
            Box::new(move |b| {
                let n = count(&shape, b);
                (Params::new().u(n).f(factor).f(bias), grid_items(n, WG))
            }),
        )
    }

    fn binary(&mut self, op: Binary, a: Value, b: Value) -> Result<(), BackendError> {
        let (sa, sb) = (self.ty(a).shape.clone(), self.ty(b).shape.clone());
        let ab = self.act(a)?;
        let bb = self.act(b)?;
        let out = self.out(0)?;
        let so = self.graph.node(self.node).results[0].shape.clone();
        self.binary_into(op, (ab, sa), (bb, sb), (out, so))
    }

    /// `out = op(a, b)` with broadcasting, each buffer with its (symbolic) shape.
    pub fn binary_into(
        &mut self,
        op: Binary,
        a: (wgpu::Buffer, Shape),
        b: (wgpu::Buffer, Shape),
        out: (wgpu::Buffer, Shape),
    ) -> Result<(), BackendError> {
        let (sa, sb, so) = (a.1, b.1, out.1);
        let cap = self.cap;
        if broadcast4(&sa.bind(&cap), &sb.bind(&cap), &so.bind(&cap)).is_none() {
            return Err(self.err(format!("broadcasting {sa} with {sb} needs more than four dims")));
        }
        self.push(
            Kernel::Binary(op),
            vec![a.0, b.0, out.0],
            Box::new(move |bind| {
                let o = so.bind(bind);
                let n: usize = o.iter().product();
                let (d, x, y) = broadcast4(&sa.bind(bind), &sb.bind(bind), &o).unwrap_or(([0; 4], [0; 4], [0; 4]));
                let mut p = Params::new().u(n).u(0).u(0).u(0);
                for v in d.into_iter().chain(x).chain(y) {
                    p = p.u(v);
                }
                (p, grid_items(n, WG))
            }),
        )
    }

    fn rms_norm(&mut self, x: Value, w: Option<Value>, eps: f32) -> Result<(), BackendError> {
        let xs = self.ty(x).shape.clone();
        let n = xs.last().and_then(|d| d.as_const());
        let xb = self.act(x)?;
        let out_shape = self.graph.node(self.node).results[0].shape.clone();
        let fused_w = match w {
            None => Some((xb.clone(), 1)),
            Some(w) => {
                let ws: Vec<Dim> = self
                    .ty(w)
                    .shape
                    .dims()
                    .iter()
                    .copied()
                    .skip_while(|d| *d == Dim::Const(1))
                    .collect();
                match n {
                    Some(n) if out_shape == xs && ws == [Dim::Const(n)] => Some((self.act(w)?, n)),
                    _ => None,
                }
            }
        };
        let out = self.out(0)?;
        let (norm_out, w_len, wb) = match &fused_w {
            Some((wb, len)) => (out.clone(), *len, wb.clone()),
            None => (self.temp(count(&xs, &self.cap))?, 1, xb.clone()),
        };
        let mul = w.is_some() && fused_w.is_some();
        self.norm_launch(mul, xb, wb, w_len, eps, xs.clone(), norm_out.clone())?;
        if let (Some(w), None) = (w, fused_w) {
            // a weight that does not broadcast along the last axis alone: norm, then mul
            let ws = self.ty(w).shape.clone();
            let wb = self.act(w)?;
            self.binary_into(Binary::Mul, (norm_out, xs), (wb, ws), (out, out_shape))?;
        }
        Ok(())
    }

    /// One rms_norm launch: `out = x / sqrt(mean(x²) + eps)` per row, times `w[i % w_len]` when
    /// `mul`.
    #[allow(clippy::too_many_arguments)]
    fn norm_launch(
        &mut self,
        mul: bool,
        x: wgpu::Buffer,
        w: wgpu::Buffer,
        w_len: usize,
        eps: f32,
        xs: Shape,
        out: wgpu::Buffer,
    ) -> Result<(), BackendError> {
        self.push(
            Kernel::RmsNorm { mul },
            vec![x, w, out],
            Box::new(move |b| {
                let (rows, n) = rows_cols(&xs, b);
                (Params::new().u(rows).u(n).f(eps).u(w_len), grid(rows))
            }),
        )
    }

    /// A folded norm computed into `out` after all, for a reader that cannot fold it.
    pub fn norm_into(
        &mut self,
        x: wgpu::Buffer,
        w: wgpu::Buffer,
        eps: f32,
        xs: Shape,
        out: wgpu::Buffer,
    ) -> Result<(), BackendError> {
        let n = xs.last().and_then(|d| d.as_const()).unwrap_or(1);
        self.norm_launch(true, x, w, n, eps, xs, out)
    }

    /// Whether `rms_norm_mul` node `id` is left to its readers: in a decode plan (one token),
    /// where `lingot_passes::stats::norm_folds` says (the launch count it models).
    fn folds_norm(&self, id: NodeId) -> bool {
        self.cap.t == 1 && lingot_passes::stats::norm_folds(self.graph, id)
    }

    fn rope(&mut self, ops: &[Value], n_rot: usize, base: f32, scale: f32) -> Result<(), BackendError> {
        let xs = self.ty(ops[0]).shape.clone();
        let (heads, d) = match (xs.dims()[1].as_const(), xs.dims()[2].as_const()) {
            (Some(h), Some(d)) => (h, d),
            _ => return Err(self.err("rope needs constant heads and head dim")),
        };
        let table = self.rope_table(n_rot, base, scale)?;
        let x = self.act(ops[0])?;
        let pos = self.act(ops[1])?;
        let out = self.out(0)?;
        self.push(
            Kernel::Rope,
            vec![x, pos, table, out],
            Box::new(move |b| {
                let n = count(&xs, b);
                (Params::new().u(n).u(heads).u(d).u(n_rot), grid_items(n, WG))
            }),
        )
    }

    fn slice(&mut self, x: Value, axis: usize, start: usize, len: usize) -> Result<(), BackendError> {
        match self.loc(x)? {
            Loc::Weight(mut view) => {
                view.ops.push(ViewOp::Slice { axis, start, len });
                view.shape[axis] = len;
                self.define(0, Loc::Weight(view));
                Ok(())
            }
            Loc::Normed { .. } => Err(self.err(FOLDED_NORM_READER)),
            Loc::Act { buffer, .. } => {
                let xs = self.ty(x).shape.clone();
                let out = self.out(0)?;
                self.push(
                    Kernel::Copy,
                    vec![buffer, out],
                    Box::new(move |b| {
                        let d = xs.bind(b);
                        let outer: usize = d[..axis].iter().product();
                        let inner: usize = d[axis + 1..].iter().product();
                        let n = outer * len * inner;
                        (
                            Params::new().u(n).u(len).u(inner).u(d[axis]).u(start).u(0),
                            grid_items(n, WG),
                        )
                    }),
                )
            }
        }
    }

    fn kv_write(&mut self, x: Value, cache: &str) -> Result<(), BackendError> {
        let xs = self.ty(x).shape.clone();
        let (heads, d) = match (xs.dims()[1].as_const(), xs.dims()[2].as_const()) {
            (Some(h), Some(d)) => (h, d),
            _ => return Err(self.err("kv_write needs constant heads and head dim")),
        };
        let xb = self.act(x)?;
        let buffer = self.cache_for(cache, heads, d)?;
        let row = heads * d;
        self.push(
            Kernel::Copy,
            vec![xb, buffer.clone()],
            Box::new(move |b| {
                let n = count(&xs, b);
                let dst = b.kv.saturating_sub(b.t) * row;
                (Params::new().u(n).u(n).u(1).u(n).u(0).u(dst), grid_items(n, WG))
            }),
        )?;
        self.define(0, Loc::Act { buffer, pool: None });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::broadcast4;

    #[test]
    fn broadcasts_collapse() {
        // [t, 8] + [8]: one dim after merging? no: b is broadcast along t
        assert_eq!(
            broadcast4(&[3, 8], &[8], &[3, 8]),
            Some(([1, 1, 3, 8], [0, 0, 8, 1], [0, 0, 0, 1]))
        );
        // same shapes merge into one dim
        assert_eq!(
            broadcast4(&[2, 3, 4], &[2, 3, 4], &[2, 3, 4]),
            Some(([1, 1, 1, 24], [0, 0, 0, 1], [0, 0, 0, 1]))
        );
        // [2, 1, 4] * [3, 1]: out [2, 3, 4]
        assert_eq!(
            broadcast4(&[2, 1, 4], &[3, 1], &[2, 3, 4]),
            Some(([1, 2, 3, 4], [0, 4, 0, 1], [0, 0, 1, 0]))
        );
        assert!(broadcast4(&[2, 1, 2, 1, 2], &[1, 2, 1, 2, 1], &[2, 2, 2, 2, 2]).is_none());
    }
}
