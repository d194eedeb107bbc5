//! The executor: walks the graph in topological order, evaluates each node, frees values after
//! their last use, and keeps the KV caches between runs.

use std::collections::HashMap;
use std::sync::Arc;

use lingot_ir::exec::{Backend, BackendError, HostTensor, Weights};
use lingot_ir::{Bindings, Graph, NodeId, Op, Value};

use crate::attention::{self, Dims};
use crate::elementwise::{self as ew, sigmoid, silu};
use crate::matmul;
use crate::routing::{self, Router};
use crate::tensor::{rows_cols, Matrix, Tensor};
use crate::value::{from_host, i32_of, matrix, shape_of, to_host, Val};
use crate::CpuError;

pub struct CpuBackend<'w> {
    weights: &'w dyn Weights,
    /// Weights converted to dense f32 for elementwise use, by name.
    dense: HashMap<String, Arc<Vec<f32>>>,
    /// KV caches by name: rows of `heads * d` floats, one per cached position.
    caches: HashMap<String, (Vec<usize>, Arc<Vec<f32>>)>,
}

impl<'w> CpuBackend<'w> {
    pub fn new(weights: &'w dyn Weights) -> CpuBackend<'w> {
        CpuBackend {
            weights,
            dense: HashMap::new(),
            caches: HashMap::new(),
        }
    }

    fn node_err(g: &Graph, id: NodeId, msg: impl Into<String>) -> BackendError {
        let n = g.node(id);
        let name = n.name.as_deref().map(|s| format!(" \"{s}\"")).unwrap_or_default();
        BackendError::Node {
            node: format!("{}{name} ({:?})", n.op.name(), id.index()),
            msg: msg.into(),
        }
    }

    fn f32_of(&mut self, v: &Val<'w>, name: &str) -> Result<(Vec<usize>, Arc<Vec<f32>>), CpuError> {
        match v {
            Val::T(Tensor::F32 { shape, data }) => Ok((shape.clone(), data.clone())),
            Val::T(Tensor::I32 { .. }) => Err(CpuError("expected a float operand, got i32".into())),
            Val::W(w) => {
                if let Some(d) = self.dense.get(name) {
                    return Ok((w.shape.to_vec(), d.clone()));
                }
                let (rows, cols) = rows_cols(w.shape);
                let m = Matrix::stored(w, cols)?;
                let mut data = vec![0f32; rows * cols];
                for (r, out) in data.chunks_mut(cols.max(1)).enumerate() {
                    m.row(r, out)?;
                }
                let d = Arc::new(data);
                self.dense.insert(name.to_string(), d.clone());
                Ok((w.shape.to_vec(), d))
            }
        }
    }
}

impl Backend for CpuBackend<'_> {
    fn name(&self) -> String {
        format!("cpu ({} threads)", rayon::current_num_threads())
    }

    fn run(&mut self, g: &Graph, inputs: &[(&str, HostTensor)], b: Bindings) -> Result<Vec<HostTensor>, BackendError> {
        let order = g
            .topo_order()
            .map_err(|n| Self::node_err(g, n, "the graph has a cycle"))?;
        // Last position in `order` where each node's results are read (outputs: never freed).
        let pos: HashMap<NodeId, usize> = order.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let mut last_use: HashMap<NodeId, usize> = HashMap::new();
        for &n in &order {
            for v in g.operands(n) {
                let e = last_use.entry(v.node).or_insert(0);
                *e = (*e).max(pos[&n]);
            }
        }
        for (v, _) in &g.outputs {
            last_use.insert(v.node, usize::MAX);
        }
        let mut vals: HashMap<Value, Val> = HashMap::new();
        for (i, &id) in order.iter().enumerate() {
            let operands: Vec<Val> = g.operands(id).iter().map(|v| vals[v].clone()).collect();
            let results = self.eval(g, id, &operands, inputs, b)?;
            for (r, val) in results.into_iter().enumerate() {
                vals.insert(
                    Value {
                        node: id,
                        index: r as u32,
                    },
                    val,
                );
            }
            for v in g.operands(id) {
                if last_use.get(&v.node) == Some(&i) {
                    vals.retain(|k, _| k.node != v.node);
                }
            }
        }
        g.outputs
            .iter()
            .map(|(v, name)| match &vals[v] {
                Val::T(t) => Ok(to_host(t)),
                Val::W(_) => Err(BackendError::Node {
                    node: name.clone(),
                    msg: "an output must be computed, not a weight".into(),
                }),
            })
            .collect()
    }

    fn reset(&mut self) {
        self.caches.clear();
    }
}

impl<'w> CpuBackend<'w> {
    fn eval(
        &mut self,
        g: &Graph,
        id: NodeId,
        ops: &[Val<'w>],
        inputs: &[(&str, HostTensor)],
        b: Bindings,
    ) -> Result<Vec<Val<'w>>, BackendError> {
        let node = g.node(id);
        let expected: Vec<Vec<usize>> = node.results.iter().map(|r| r.shape.bind(&b)).collect();
        let out = match &node.op {
            Op::Input { name } => {
                let h = inputs
                    .iter()
                    .find(|(n, _)| n == name)
                    .ok_or_else(|| BackendError::MissingInput(name.clone()))?;
                vec![Val::T(from_host(&h.1))]
            }
            Op::Weight { name } => {
                let w = self
                    .weights
                    .weight(name)
                    .ok_or_else(|| BackendError::MissingWeight(name.clone()))?;
                if w.shape != expected[0].as_slice() || w.dtype != node.results[0].dtype {
                    let msg = format!(
                        "weight \"{name}\" is {}{:?} in the file, the graph expects {}",
                        w.dtype, w.shape, node.results[0]
                    );
                    return Err(Self::node_err(g, id, msg));
                }
                vec![Val::W(w)]
            }
            _ => self
                .compute(g, id, ops, &expected)
                .map_err(|e| Self::node_err(g, id, e.0))?,
        };
        for (v, want) in out.iter().zip(&expected) {
            if shape_of(v) != *want {
                return Err(Self::node_err(
                    g,
                    id,
                    format!("computed shape {:?}, the graph says {want:?}", shape_of(v)),
                ));
            }
        }
        Ok(out)
    }

    fn operand_name(g: &Graph, id: NodeId, slot: usize) -> String {
        let v = g.operands(id)[slot];
        match &g.node(v.node).op {
            Op::Weight { name } => name.clone(),
            _ => String::new(),
        }
    }

    /// Evaluates a computing op. `want` holds the bound result shapes.
    fn compute(
        &mut self,
        g: &Graph,
        id: NodeId,
        ops: &[Val<'w>],
        want: &[Vec<usize>],
    ) -> Result<Vec<Val<'w>>, CpuError> {
        let f = |shape: Vec<usize>, data: Vec<f32>| Ok(vec![Val::T(Tensor::f32(shape, data))]);
        let wname = |slot: usize| Self::operand_name(g, id, slot);
        let out0 = want[0].clone();
        match &g.node(id).op {
            Op::Input { .. } | Op::Weight { .. } => unreachable!("handled by eval"),
            Op::GetRows => {
                let ts = shape_of(&ops[0]);
                let dense = self.dense_if_computed(&ops[0])?;
                let table = matrix(&ops[0], &ts, &dense)?;
                let (_, ids) = i32_of(&ops[1])?;
                f(out0, matmul::get_rows(&table, ts[0], ts[1], &ids)?)
            }
            Op::MulMat => {
                let ws = shape_of(&ops[0]);
                let dense = self.dense_if_computed(&ops[0])?;
                let w = matrix(&ops[0], &ws, &dense)?;
                let (_, x) = self.f32_of(&ops[1], "")?;
                f(out0, matmul::mul_mat(&w, ws[0], ws[1], &x)?)
            }
            Op::MulMatId => {
                let ws = shape_of(&ops[0]);
                let dense = self.dense_if_computed(&ops[0])?;
                let w = matrix(&ops[0], &ws, &dense)?;
                let (xs, x) = self.f32_of(&ops[1], "")?;
                let (is, ids) = i32_of(&ops[2])?;
                f(out0, matmul::mul_mat_id(&w, &ws, &x, xs[1], &ids, is[1])?)
            }
            op @ (Op::Add | Op::Mul | Op::Div | Op::SwiGlu) => {
                let (sa, a) = self.f32_of(&ops[0], &wname(0))?;
                let (sb, bb) = self.f32_of(&ops[1], &wname(1))?;
                let (shape, data) = match op {
                    Op::Add => ew::binary(&a, &sa, &bb, &sb, |x, y| x + y),
                    Op::Mul => ew::binary(&a, &sa, &bb, &sb, |x, y| x * y),
                    Op::Div => ew::binary(&a, &sa, &bb, &sb, |x, y| x / y),
                    _ => ew::binary(&a, &sa, &bb, &sb, |x, y| silu(x) * y),
                };
                f(shape, data)
            }
            Op::Scale { factor, bias } => {
                let (s, x) = self.f32_of(&ops[0], &wname(0))?;
                f(s, ew::map(&x, |v| v * factor + bias))
            }
            Op::Silu => {
                let (s, x) = self.f32_of(&ops[0], &wname(0))?;
                f(s, ew::map(&x, silu))
            }
            Op::Sigmoid => {
                let (s, x) = self.f32_of(&ops[0], &wname(0))?;
                f(s, ew::map(&x, sigmoid))
            }
            Op::SoftMax => {
                let (s, x) = self.f32_of(&ops[0], &wname(0))?;
                let y = ew::soft_max(&x, &s);
                f(s, y)
            }
            Op::RmsNorm { eps } => {
                let (s, x) = self.f32_of(&ops[0], &wname(0))?;
                let y = ew::rms_norm(&x, &s, *eps);
                f(s, y)
            }
            Op::RmsNormMul { eps } => {
                let (s, x) = self.f32_of(&ops[0], &wname(0))?;
                let (sw, w) = self.f32_of(&ops[1], &wname(1))?;
                let normed = ew::rms_norm(&x, &s, *eps);
                let (shape, data) = ew::binary(&normed, &s, &w, &sw, |x, y| x * y);
                f(shape, data)
            }
            Op::Rope {
                n_rot,
                freq_base,
                freq_scale,
            } => {
                let (s, x) = self.f32_of(&ops[0], &wname(0))?;
                let (_, p) = i32_of(&ops[1])?;
                let y = ew::rope(&x, &s, &p, *n_rot, *freq_base, *freq_scale);
                f(s, y)
            }
            Op::Argsort { descending } => {
                let (s, x) = self.f32_of(&ops[0], &wname(0))?;
                let cols = rows_cols(&s).1;
                Ok(vec![Val::T(Tensor::i32(s, routing::argsort(&x, cols, *descending)))])
            }
            Op::TopK { k } => {
                let (s, x) = self.f32_of(&ops[0], &wname(0))?;
                Ok(vec![Val::T(Tensor::i32(out0, routing::top_k(&x, rows_cols(&s).1, *k)))])
            }
            Op::GroupMask { groups, keep } => {
                let (s, x) = self.f32_of(&ops[0], &wname(0))?;
                let y = routing::group_mask(&x, rows_cols(&s).1, *groups, *keep);
                f(s, y)
            }
            Op::Gather => {
                let (s, x) = self.f32_of(&ops[0], &wname(0))?;
                let (is, idx) = i32_of(&ops[1])?;
                let y = routing::gather(&x, rows_cols(&s).1, &idx, rows_cols(&is).1).map_err(CpuError)?;
                f(out0, y)
            }
            Op::Sum { axis } => {
                let (s, x) = self.f32_of(&ops[0], &wname(0))?;
                f(out0, ew::sum_axis(&x, &s, *axis))
            }
            Op::Reshape { .. } => Ok(vec![match &ops[0] {
                Val::T(t) => Val::T(t.with_shape(out0)),
                Val::W(w) => {
                    let (_, d) = self.f32_of(&Val::W(*w), &wname(0))?;
                    Val::T(Tensor::F32 { shape: out0, data: d })
                }
            }]),
            Op::Slice { axis, start, len } => match &ops[0] {
                Val::T(Tensor::I32 { shape, data }) => Ok(vec![Val::T(Tensor::i32(
                    out0,
                    ew::slice(data, shape, *axis, *start, *len),
                ))]),
                v => {
                    let (s, x) = self.f32_of(v, &wname(0))?;
                    f(out0, ew::slice(&x, &s, *axis, *start, *len))
                }
            },
            Op::KvWrite { cache } => {
                let (s, x) = self.f32_of(&ops[0], &wname(0))?;
                Ok(vec![Val::T(self.kv_write(cache, &s, &x, &out0)?)])
            }
            Op::Attention { scale } => {
                let (qs, q) = self.f32_of(&ops[0], &wname(0))?;
                let (ks, k) = self.f32_of(&ops[1], &wname(1))?;
                let (vs, v) = self.f32_of(&ops[2], &wname(2))?;
                if ks[0] < qs[0] {
                    return Err(CpuError(format!("attention: {} keys for {} queries", ks[0], qs[0])));
                }
                let dims = Dims {
                    t: qs[0],
                    kv: ks[0],
                    heads: qs[1],
                    kv_heads: ks[1],
                    d: qs[2],
                    dv: vs[2],
                };
                f(out0, attention::attention(&q, &k, &v, &dims, *scale))
            }
            Op::MoeRouter {
                groups,
                keep,
                k,
                norm,
                scale,
            } => {
                let (_, logits) = self.f32_of(&ops[0], &wname(0))?;
                let (_, bias) = self.f32_of(&ops[1], &wname(1))?;
                let router = Router {
                    groups: *groups,
                    keep: *keep,
                    k: *k,
                    norm: *norm,
                    scale: *scale,
                };
                let (ids, w) = router.route(&logits, &bias);
                Ok(vec![
                    Val::T(Tensor::i32(out0, ids)),
                    Val::T(Tensor::f32(want[1].clone(), w)),
                ])
            }
            Op::MoeGateUp => {
                let (xs, x) = self.f32_of(&ops[0], &wname(0))?;
                let (is, ids) = i32_of(&ops[3])?;
                let ws = shape_of(&ops[1]);
                let (dg, du) = (self.dense_if_computed(&ops[1])?, self.dense_if_computed(&ops[2])?);
                let (gate, up) = (matrix(&ops[1], &ws, &dg)?, matrix(&ops[2], &ws, &du)?);
                let gx = matmul::mul_mat_id(&gate, &ws, &x, 1, &ids, is[1])?;
                let ux = matmul::mul_mat_id(&up, &ws, &x, 1, &ids, is[1])?;
                debug_assert_eq!(xs[0], is[0]);
                f(out0, gx.iter().zip(&ux).map(|(g, u)| silu(*g) * u).collect())
            }
            Op::MoeDown => {
                let (hs, h) = self.f32_of(&ops[0], &wname(0))?;
                let ws = shape_of(&ops[1]);
                let dd = self.dense_if_computed(&ops[1])?;
                let down = matrix(&ops[1], &ws, &dd)?;
                let (is, ids) = i32_of(&ops[2])?;
                let (_, w) = self.f32_of(&ops[3], &wname(3))?;
                let y = matmul::mul_mat_id(&down, &ws, &h, hs[1], &ids, is[1])?;
                let n = ws[1];
                let mut out = vec![0f32; is[0] * n];
                for (tok, o) in out.chunks_mut(n.max(1)).enumerate() {
                    for slot in 0..is[1] {
                        let wv = w[tok * is[1] + slot];
                        for (o, v) in o.iter_mut().zip(&y[(tok * is[1] + slot) * n..][..n]) {
                            *o += wv * v;
                        }
                    }
                }
                for (slot, addend) in ops.iter().enumerate().skip(4) {
                    let (_, a) = self.f32_of(addend, &wname(slot))?;
                    out.iter_mut().zip(a.iter()).for_each(|(o, a)| *o += a);
                }
                f(out0, out)
            }
            Op::MulMatAdd => {
                let ws = shape_of(&ops[0]);
                let dense = self.dense_if_computed(&ops[0])?;
                let w = matrix(&ops[0], &ws, &dense)?;
                let (_, x) = self.f32_of(&ops[1], "")?;
                let (_, a) = self.f32_of(&ops[2], &wname(2))?;
                let mut y = matmul::mul_mat(&w, ws[0], ws[1], &x)?;
                y.iter_mut().zip(a.iter()).for_each(|(y, a)| *y += a);
                f(out0, y)
            }
            Op::GateUp => {
                let (_, x) = self.f32_of(&ops[0], &wname(0))?;
                let ws = shape_of(&ops[1]);
                let (dg, du) = (self.dense_if_computed(&ops[1])?, self.dense_if_computed(&ops[2])?);
                let (gate, up) = (matrix(&ops[1], &ws, &dg)?, matrix(&ops[2], &ws, &du)?);
                let g = matmul::mul_mat(&gate, ws[0], ws[1], &x)?;
                let u = matmul::mul_mat(&up, ws[0], ws[1], &x)?;
                f(out0, g.iter().zip(&u).map(|(g, u)| silu(*g) * u).collect())
            }
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
                let (s, x) = self.f32_of(&ops[0], &wname(0))?;
                let (_, qw) = self.f32_of(&ops[1], &wname(1))?;
                let (_, kw) = self.f32_of(&ops[2], &wname(2))?;
                let (_, pos) = i32_of(&ops[3])?;
                let (t, d, dv) = (s[0], qw.len(), want[2][2]);
                let (q_cols, k_cols) = (heads * d, kv_heads * d);
                // the same steps as slice, rms_norm, mul, rope and kv_write unfused
                let head = |cols: Vec<f32>, h: usize, w: &[f32]| {
                    let shape = [t, h, d];
                    let (_, y) = ew::binary(&ew::rms_norm(&cols, &shape, *eps), &shape, w, &[d], |a, b| a * b);
                    ew::rope(&y, &shape, &pos, *n_rot, *freq_base, *freq_scale)
                };
                let q = head(ew::slice(&x, &s, 1, 0, q_cols), *heads, &qw);
                let k = head(ew::slice(&x, &s, 1, q_cols, k_cols), *kv_heads, &kw);
                let v = ew::slice(&x, &s, 1, q_cols + k_cols, kv_heads * dv);
                let k_all = self.kv_write(k_cache, &[t, *kv_heads, d], &k, &want[1])?;
                let v_all = self.kv_write(v_cache, &[t, *kv_heads, dv], &v, &want[2])?;
                Ok(vec![Val::T(Tensor::f32(out0, q)), Val::T(k_all), Val::T(v_all)])
            }
        }
    }

    /// A computed operand of a matrix op as dense f32 (stored weights need none).
    fn dense_if_computed(&mut self, v: &Val<'w>) -> Result<Option<Arc<Vec<f32>>>, CpuError> {
        match v {
            Val::W(_) => Ok(None),
            Val::T(_) => Ok(Some(self.f32_of(v, "")?.1)),
        }
    }

    /// Writes the batch rows at positions `kv - t .. kv` and returns the cache's first `kv` rows.
    fn kv_write(&mut self, name: &str, s: &[usize], x: &[f32], want: &[usize]) -> Result<Tensor, CpuError> {
        let (t, kv) = (s[0], want[0]);
        let row = s[1] * s[2];
        let entry = self
            .caches
            .entry(name.to_string())
            .or_insert_with(|| (s[1..].to_vec(), Arc::new(vec![])));
        if entry.0 != s[1..] {
            return Err(CpuError(format!(
                "KV cache \"{name}\" holds rows of {:?}, this batch has {:?}",
                entry.0,
                &s[1..]
            )));
        }
        let held = entry.1.len() / row.max(1);
        let start = kv - t;
        if held < start {
            return Err(CpuError(format!(
                "KV cache \"{name}\" holds {held} positions; this batch starts at {start}"
            )));
        }
        let data = Arc::make_mut(&mut entry.1);
        data.truncate(start * row);
        data.extend_from_slice(x);
        Ok(Tensor::F32 {
            shape: want.to_vec(),
            data: entry.1.clone(),
        })
    }
}
