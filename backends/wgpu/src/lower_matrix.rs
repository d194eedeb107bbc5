//! Lowering of the ops that read a matrix in its stored dtype: `get_rows`, `mul_mat` and
//! `mul_mat_add` (mat-vec kernel up to eight rows of x, tiled kernel beyond; the addend is added
//! as results are written), `mul_mat_id`, `moe_gate_up`, `moe_down` (a mat-vec per (token, expert)
//! pair up to eight tokens; beyond, the pairs are grouped by expert on the GPU (`moe_sort`) and
//! each expert's are a tiled product (`mat_mul_id`); `moe_down` adds two addends as it writes).
//! A weight split into chunks gets one launch per chunk: rows of it for `mul_mat` and
//! `get_rows`, experts for the expert-indexed ops (which read the ids on the GPU).

use std::sync::Arc;

use lingot_ir::exec::BackendError;
use lingot_ir::{DType, NodeId, Op, Shape, Value};
use lingot_passes::stats::SharedExpertFold;

use crate::kernels::{Binary, Kernel, XRows, MAT_MUL_TILE, MAT_VEC_MAX_B, MAT_VEC_ROWS};
use crate::pipelines::{grid, Params};
use crate::plan::{count, Loc, Norm, Planner};
use crate::weights::{GpuWeight, WeightView};

impl Planner<'_, '_> {
    pub fn weight_of_rank(&mut self, v: Value, rank: usize, what: &str) -> Result<Arc<GpuWeight>, BackendError> {
        let w = self.matrix(v)?;
        if w.shape.len() != rank || w.dtype.row_bytes(w.shape[rank - 1] as u64).is_none() {
            return Err(self.err(format!(
                "{what} must be rank {rank} of whole {} blocks, got {:?}",
                w.dtype, w.shape
            )));
        }
        if w.dtype == lingot_ir::DType::I32 {
            return Err(self.err(format!("{what} is i32")));
        }
        Ok(w)
    }

    /// `get_rows` from a weight (any dtype, maybe split) or from a computed f32 table such as
    /// the hidden state (rows bound per run: an id past them reads as zeros).
    pub fn get_rows(&mut self, ops: &[Value]) -> Result<(), BackendError> {
        let ids_shape = self.ty(ops[1]).shape.clone();
        if let Loc::Act { buffer, .. } = self.loc(ops[0])? {
            let ty = self.ty(ops[0]).clone();
            let k = match (ty.dtype, ty.shape.dims()) {
                (DType::F32, [_, k]) => k.as_const(),
                _ => None,
            };
            let Some(k) = k else {
                return Err(self.err(format!("a computed get_rows table must be f32 [rows, K], got {ty}")));
            };
            let ids = self.act(ops[1])?;
            let out = self.out(0)?;
            let (s, s2) = (ids_shape.clone(), ids_shape);
            return self.push_counted(
                Kernel::GetRows(DType::F32),
                vec![buffer, ids, out],
                Box::new(move |b| {
                    let (n, rows) = (count(&s, b), ty.shape.dims()[0].bind(b));
                    let p = Params::new().u(n).u(k).u(4 * k).u(0).u(rows).u(rows).flag(true).u(0);
                    (p, grid(n))
                }),
                Box::new(move |b| (4 * k * count(&s2, b)) as u64),
            );
        }
        let table = self.weight_of_rank(ops[0], 2, "get_rows table")?;
        let ids = self.act(ops[1])?;
        let out = self.out(0)?;
        let (rows, k, row_bytes) = (table.shape[0], table.shape[1], table.row_bytes() as usize);
        for (ci, chunk) in table.chunks.iter().enumerate() {
            let (lo, hi, first) = (chunk.start, chunk.start + chunk.len, ci == 0);
            let (s, s2) = (ids_shape.clone(), ids_shape.clone());
            let bufs = vec![chunk.buffer.clone(), ids.clone(), out.clone()];
            self.push_counted(
                Kernel::GetRows(table.dtype),
                bufs,
                Box::new(move |b| {
                    let n = count(&s, b);
                    (
                        Params::new()
                            .u(n)
                            .u(k)
                            .u(row_bytes)
                            .u(lo)
                            .u(hi)
                            .u(rows)
                            .flag(first)
                            .u(0),
                        grid(n),
                    )
                }),
                Box::new(move |b| (row_bytes * count(&s2, b)) as u64),
            )?;
        }
        // ids straight from a graph input are checked on the host before each run
        if let Op::Input { name } = &self.graph.node(ops[1].node).op {
            if let Some(i) = self.inputs.iter_mut().find(|i| &i.name == name) {
                i.id_limit = Some(i.id_limit.map_or(rows, |l| l.min(rows)));
            }
        }
        Ok(())
    }

    /// `mul_mat`, and `mul_mat_add` when `ops` has the addend.
    pub fn mul_mat(&mut self, ops: &[Value]) -> Result<(), BackendError> {
        let w = self.weight_of_rank(ops[0], 2, "mul_mat weight")?;
        let xs = self.ty(ops[1]).shape.clone();
        let (x, norm) = self.act_or_normed(ops[1])?;
        let addend = match ops.get(2) {
            Some(a) => Some(self.act(*a)?),
            None => None,
        };
        let out = self.out(0)?;
        self.mul_mat_into(&w, xs, (x, norm), out, addend)
    }

    /// Launches for `out = w · x (+ addend)`: the mat-vec kernel for up to eight rows of x
    /// (bucket's largest batch), the tiled one beyond; one launch per chunk of rows of `w`. The
    /// mat-vec folds a norm of x (`x.1`, a decode plan's only).
    pub fn mul_mat_into(
        &mut self,
        w: &GpuWeight,
        xs: Shape,
        (x, norm): (wgpu::Buffer, Norm),
        out: wgpu::Buffer,
        addend: Option<wgpu::Buffer>,
    ) -> Result<(), BackendError> {
        let (n, k, row_bytes) = (w.shape[0], w.shape[1], w.row_bytes() as usize);
        let vec_form = count(&xs, &self.cap) / k.max(1) <= MAT_VEC_MAX_B;
        if norm.is_some() && !vec_form {
            return Err(self.err("internal: a folded norm reaches a tiled product"));
        }
        let add = addend.is_some();
        let a = addend.unwrap_or_else(|| x.clone());
        let (folded, eps) = (norm.is_some(), norm.as_ref().map_or(0.0, |n| n.1));
        let nw = norm.map_or_else(|| x.clone(), |n| n.0);
        for chunk in &w.chunks {
            let (n0, len) = (chunk.start, chunk.len);
            let (s, s2) = (xs.clone(), xs.clone());
            let (bufs, kernel) = if vec_form {
                (
                    vec![chunk.buffer.clone(), x.clone(), a.clone(), nw.clone(), out.clone()],
                    Kernel::MatVec(w.dtype, XRows::of(count(&xs, &self.cap) / k.max(1))),
                )
            } else {
                (
                    vec![chunk.buffer.clone(), x.clone(), a.clone(), out.clone()],
                    Kernel::MatMul(w.dtype),
                )
            };
            let tm = kernel.tile(self.gpu.caps).0;
            let bytes: crate::plan::BytesFn = Box::new(move |b| {
                let rows_x = count(&s2, b) / k.max(1);
                (len * row_bytes + 4 * rows_x * k + if add { 4 * rows_x * len } else { 0 }) as u64
            });
            self.push_counted(
                kernel,
                bufs,
                Box::new(move |b| {
                    let rows_x = count(&s, b) / k.max(1);
                    let p = Params::new().u(k).u(len).u(n).u(n0).u(rows_x).u(row_bytes).flag(add);
                    let p = p.flag(folded).f(eps);
                    let groups = if vec_form {
                        grid(len.div_ceil(MAT_VEC_ROWS))
                    } else {
                        [len.div_ceil(tm) as u32, rows_x.div_ceil(MAT_MUL_TILE.1) as u32, 1]
                    };
                    (p, groups)
                }),
                bytes,
            )?;
        }
        Ok(())
    }

    /// The expert weight `[E, N, K]` and the slots per token of `ids [t, k]`.
    fn experts(&mut self, w: Value, ids: Value, what: &str) -> Result<(Arc<GpuWeight>, usize), BackendError> {
        let w = self.weight_of_rank(w, 3, what)?;
        let slots = self.ty(ids).shape.dims()[1]
            .as_const()
            .ok_or_else(|| self.err("the expert slots per token must be constant"))?;
        Ok((w, slots))
    }

    pub fn mul_mat_id(&mut self, ops: &[Value]) -> Result<(), BackendError> {
        let (w, slots) = self.experts(ops[0], ops[2], "mul_mat_id weight")?;
        let x_per_pair = self.ty(ops[1]).shape.dims()[1] != lingot_ir::Dim::Const(1);
        let ids_shape = self.ty(ops[2]).shape.clone();
        let x = self.act(ops[1])?;
        let ids = self.act(ops[2])?;
        let out = self.out(0)?;
        if self.grouped(&ids_shape, slots, w.shape[0]) {
            let (order, offsets) = self.sort_pairs(ops[2], &ids, ids_shape.clone(), w.shape[0])?;
            let x_div = if x_per_pair { 1 } else { slots };
            return self.expert_mat_mul(&w, x_div, ids_shape, x, (order, offsets), out, None);
        }
        self.expert_mat_vec(&w, slots, x_per_pair, ids_shape, x, ids, out)
    }

    /// Whether the expert products of the current node take the grouped (prefill) path: more
    /// tokens than the mat-vec kernels are for, and few enough experts for moe_sort.
    fn grouped(&self, ids_shape: &Shape, slots: usize, experts: usize) -> bool {
        count(ids_shape, &self.cap) / slots.max(1) > MAT_VEC_MAX_B && experts <= SORT_MAX_E
    }

    /// The pairs of expert ids `ids_value` (in `ids`) grouped by expert: (order, offsets), offsets
    /// with the tile list of mat_mul_id after the groups' offsets (see moe_sort.wgsl). One moe_sort
    /// launch for the first op that asks; later ones with the same ids reuse its buffers, which
    /// are kept for the run.
    fn sort_pairs(
        &mut self,
        ids_value: Value,
        ids: &wgpu::Buffer,
        ids_shape: Shape,
        experts: usize,
    ) -> Result<(wgpu::Buffer, wgpu::Buffer), BackendError> {
        if let Some(sorted) = self.sorts.get(&(ids_value, experts)) {
            return Ok(sorted.clone());
        }
        let pairs = count(&ids_shape, &self.cap);
        let order = self.kept(pairs)?;
        let offsets = self.kept(experts + 3 + 2 * max_tiles(pairs, experts))?;
        self.push(
            Kernel::MoeSort,
            vec![ids.clone(), order.clone(), offsets.clone()],
            Box::new(move |b| {
                let p = Params::new().u(count(&ids_shape, b)).u(experts).u(MAT_MUL_TILE.1);
                (p, [1, 1, 1])
            }),
        )?;
        self.sorts
            .insert((ids_value, experts), (order.clone(), offsets.clone()));
        Ok((order, offsets))
    }

    /// mat_mul_id launches (one per chunk of experts) writing `out [pairs, N]` for pairs grouped
    /// by [`Planner::sort_pairs`]; x row of a pair = pair / `x_div`. With `gate` (shaped like
    /// out), `out` = silu(gate) * the product.
    #[allow(clippy::too_many_arguments)]
    fn expert_mat_mul(
        &mut self,
        w: &GpuWeight,
        x_div: usize,
        ids_shape: Shape,
        x: wgpu::Buffer,
        (order, offsets): (wgpu::Buffer, wgpu::Buffer),
        out: wgpu::Buffer,
        gate: Option<wgpu::Buffer>,
    ) -> Result<(), BackendError> {
        let swiglu = gate.is_some();
        let gate = gate.unwrap_or_else(|| x.clone());
        let (experts, n, k) = (w.shape[0], w.shape[1], w.shape[2]);
        let (row_bytes, expert_bytes) = (w.row_bytes() as usize, w.outer_bytes as usize);
        for (ci, chunk) in w.chunks.iter().enumerate() {
            let (lo, hi, first) = (chunk.start, chunk.start + chunk.len, ci == 0);
            let (s, s2) = (ids_shape.clone(), ids_shape.clone());
            let bufs = vec![
                chunk.buffer.clone(),
                x.clone(),
                order.clone(),
                offsets.clone(),
                gate.clone(),
                out.clone(),
            ];
            let kernel = Kernel::MatMulId(w.dtype);
            let tm = kernel.tile(self.gpu.caps).0;
            self.push_counted(
                kernel,
                bufs,
                Box::new(move |b| {
                    let pairs = count(&s, b);
                    let p = Params::new().u(k).u(n).u(row_bytes).u(expert_bytes).u(lo).u(hi);
                    let p = p.u(experts).u(x_div).flag(first).flag(swiglu);
                    let tiles = max_tiles(pairs, experts) as u32;
                    (p, [n.div_ceil(tm) as u32, tiles, 1])
                }),
                expert_bytes_read(s2, hi - lo, expert_bytes, k),
            )?;
        }
        Ok(())
    }

    /// mat_vec_id launches (one per chunk of experts) writing `out [pairs, N]`.
    #[allow(clippy::too_many_arguments)]
    fn expert_mat_vec(
        &mut self,
        w: &GpuWeight,
        slots: usize,
        x_per_pair: bool,
        ids_shape: Shape,
        x: wgpu::Buffer,
        ids: wgpu::Buffer,
        out: wgpu::Buffer,
    ) -> Result<(), BackendError> {
        let (experts, n, k) = (w.shape[0], w.shape[1], w.shape[2]);
        let (row_bytes, expert_bytes) = (w.row_bytes() as usize, w.outer_bytes as usize);
        for (ci, chunk) in w.chunks.iter().enumerate() {
            let (lo, hi, first) = (chunk.start, chunk.start + chunk.len, ci == 0);
            let (s, s2) = (ids_shape.clone(), ids_shape.clone());
            let bufs = vec![chunk.buffer.clone(), x.clone(), ids.clone(), out.clone()];
            self.push_counted(
                Kernel::MatVecId(w.dtype),
                bufs,
                Box::new(move |b| {
                    let pairs = count(&s, b);
                    let p = Params::new().u(k).u(n).u(pairs).u(slots).flag(x_per_pair).u(row_bytes);
                    let p = p.u(expert_bytes).u(lo).u(hi).u(experts).flag(first);
                    (p, grid(pairs * n))
                }),
                expert_bytes_read(s2, hi - lo, expert_bytes, k),
            )?;
        }
        Ok(())
    }

    /// The shared-expert fold node `id` is part of in this plan: where
    /// `lingot_passes::stats::shared_expert_fold` finds one (the launch count it models), in a
    /// decode step, with each of the shared expert's weights in one buffer.
    pub fn shared_fold(&self, id: NodeId) -> Option<SharedExpertFold> {
        if self.cap.t != 1 {
            return None;
        }
        let fold = lingot_passes::stats::shared_expert_fold_of(self.graph, id)?;
        fold.weights.iter().all(|w| self.fits_one_buffer(*w)).then_some(fold)
    }

    /// Whether weight value `v` (constant shape, whole blocks) is uploaded as one buffer.
    pub fn fits_one_buffer(&self, v: Value) -> bool {
        let ty = self.ty(v);
        let dims: Option<Vec<usize>> = ty.shape.dims().iter().map(|d| d.as_const()).collect();
        let bytes = dims.and_then(|d| {
            let (k, outer) = d.split_last()?;
            let rows: usize = outer.iter().product();
            ty.dtype.row_bytes(*k as u64).map(|r| r * rows as u64)
        });
        bytes.is_some_and(|b| self.weights.fits_one_chunk(b))
    }

    /// A weight node's one buffer (a folded shared expert's or router's: the fold checked it fits
    /// one), whether or not the plan has reached the node.
    pub fn weight_buffer(&mut self, v: Value) -> Result<wgpu::Buffer, BackendError> {
        let Op::Weight { name } = &self.graph.node(v.node).op else {
            return Err(self.err("internal: a folded weight is no weight node"));
        };
        let ty = self.ty(v);
        let view = WeightView {
            name: name.clone(),
            dtype: ty.dtype,
            shape: ty.shape.dims().iter().filter_map(|d| d.as_const()).collect(),
            ops: vec![],
        };
        let w = self.weights.get(self.gpu, &view)?;
        match w.chunks.as_slice() {
            [one] => Ok(one.buffer.clone()),
            _ => Err(self.err(format!(
                "internal: {} is split, the shared expert cannot fold",
                view.describe()
            ))),
        }
    }

    pub fn moe_gate_up(&mut self, ops: &[Value]) -> Result<(), BackendError> {
        let (gate, slots) = self.experts(ops[1], ops[3], "moe_gate_up gate")?;
        let (up, _) = self.experts(ops[2], ops[3], "moe_gate_up up")?;
        let ids_shape = self.ty(ops[3]).shape.clone();
        let ids = self.act(ops[3])?;
        // a folded shared expert: one more slot a token, from its own gate and up
        let shared = match self.shared_fold(self.node) {
            Some(f) => Some((self.weight_buffer(f.weights[0])?, self.weight_buffer(f.weights[1])?)),
            None => None,
        };
        let tokens = count(&ids_shape, &self.cap) / slots.max(1);
        let out = match shared {
            Some(_) => self.out_elems(0, tokens * (slots + 1) * gate.shape[1])?,
            None => self.out(0)?,
        };
        let one_pass =
            !self.grouped(&ids_shape, slots, gate.shape[0]) && gate.dtype == up.dtype && gate.split_like(&up);
        // the one-pass kernel folds a norm of x; the other forms take x normed
        let (x, norm) = match one_pass {
            true => self.act_or_normed(ops[0])?,
            false if shared.is_some() => {
                return Err(self.err("internal: a folded shared expert needs the one-pass form"))
            }
            false => (self.act(ops[0])?, None),
        };
        if self.grouped(&ids_shape, slots, gate.shape[0]) {
            // prefill: pairs grouped by expert, two tiled products, the second writing silu(g) * u
            let (order, offsets) = self.sort_pairs(ops[3], &ids, ids_shape.clone(), gate.shape[0])?;
            let g = self.temp(count(&ids_shape, &self.cap) * gate.shape[1])?;
            let sorted = (order, offsets);
            self.expert_mat_mul(
                &gate,
                slots,
                ids_shape.clone(),
                x.clone(),
                sorted.clone(),
                g.clone(),
                None,
            )?;
            return self.expert_mat_mul(&up, slots, ids_shape, x, sorted, out, Some(g));
        }
        if !one_pass {
            // mixed dtypes (llama-quantize mixes them): two expert products, then silu(g) * u
            let pairs = count(&ids_shape, &self.cap);
            let n = gate.shape[1];
            let (g, u) = (self.temp(pairs * n)?, self.temp(pairs * n)?);
            self.expert_mat_vec(
                &gate,
                slots,
                false,
                ids_shape.clone(),
                x.clone(),
                ids.clone(),
                g.clone(),
            )?;
            self.expert_mat_vec(&up, slots, false, ids_shape, x, ids, u.clone())?;
            let shape = self.graph.node(self.node).results[0].shape.clone();
            return self.binary_into(Binary::SwiGlu, (g, shape.clone()), (u, shape.clone()), (out, shape));
        }
        let (experts, n, k) = (gate.shape[0], gate.shape[1], gate.shape[2]);
        let (row_bytes, expert_bytes) = (gate.row_bytes() as usize, gate.outer_bytes as usize);
        let (folded, eps) = (norm.is_some(), norm.as_ref().map_or(0.0, |n| n.1));
        let nw = norm.map_or_else(|| x.clone(), |n| n.0);
        let with_shared = usize::from(shared.is_some());
        for (ci, (gc, uc)) in gate.chunks.iter().zip(&up.chunks).enumerate() {
            let (lo, hi, first) = (gc.start, gc.start + gc.len, ci == 0);
            let (s, s2) = (ids_shape.clone(), ids_shape.clone());
            // without a shared expert, its bindings take the routed weights (never read)
            let (sh_gate, sh_up) = shared.clone().unwrap_or((gc.buffer.clone(), uc.buffer.clone()));
            let bufs = vec![
                gc.buffer.clone(),
                uc.buffer.clone(),
                x.clone(),
                ids.clone(),
                nw.clone(),
                sh_gate,
                sh_up,
                out.clone(),
            ];
            let one = expert_bytes_read(s2, hi - lo, expert_bytes, k);
            let shared_bytes = (with_shared * usize::from(first) * expert_bytes) as u64;
            self.push_counted(
                Kernel::MoeGateUp(gate.dtype),
                bufs,
                Box::new(move |b| {
                    let pairs = count(&s, b);
                    let tokens = pairs / slots.max(1);
                    let p = Params::new().u(k).u(n).u(pairs).u(slots).u(row_bytes).u(expert_bytes);
                    let p = p.u(lo).u(hi).u(experts).flag(first).flag(folded).f(eps);
                    let p = p.u(with_shared);
                    (p, grid(tokens * (slots + with_shared) * n.div_ceil(MAT_VEC_ROWS)))
                }),
                Box::new(move |b| 2 * (one(b) + shared_bytes)),
            )?;
        }
        Ok(())
    }

    pub fn moe_down(&mut self, ops: &[Value]) -> Result<(), BackendError> {
        let (down, slots) = self.experts(ops[1], ops[2], "moe_down weight")?;
        let ids_shape = self.ty(ops[2]).shape.clone();
        let h = self.act(ops[0])?;
        let ids = self.act(ops[2])?;
        let weights = self.act(ops[3])?;
        let out = self.out(0)?;
        let (n, k) = (down.shape[1], down.shape[2]);
        let (row_bytes, expert_bytes) = (down.row_bytes() as usize, down.outer_bytes as usize);
        let grouped = self.grouped(&ids_shape, slots, down.shape[0]);
        // a folded shared expert: its down product is the last slot of h, not an addend
        let fold = self.shared_fold(self.node);
        let w_sh = match fold {
            Some(f) => Some(self.weight_buffer(f.weights[2])?),
            None => None,
        };
        let addends: Vec<Value> = (4..ops.len())
            .filter(|&i| fold.is_none_or(|f| f.addend != i))
            .map(|i| ops[i])
            .collect();
        // the first two further addends are added by the kernel that writes `out`
        let n_add = addends.len().min(2);
        let mut adds = vec![];
        for a in &addends[..n_add] {
            adds.push(self.act(*a)?);
        }
        while adds.len() < 2 {
            adds.push(h.clone());
        }
        if grouped {
            // prefill: per-pair products of the grouped pairs, then the weighted sum per token
            let (order, offsets) = self.sort_pairs(ops[2], &ids, ids_shape.clone(), down.shape[0])?;
            let y = self.temp(count(&ids_shape, &self.cap) * n)?;
            self.expert_mat_mul(
                &down,
                1,
                ids_shape.clone(),
                h.clone(),
                (order, offsets),
                y.clone(),
                None,
            )?;
            let (s, experts) = (ids_shape.clone(), down.shape[0]);
            self.push(
                Kernel::MoeCombine,
                vec![
                    y,
                    ids.clone(),
                    weights.clone(),
                    adds[0].clone(),
                    adds[1].clone(),
                    out.clone(),
                ],
                Box::new(move |b| {
                    let tokens = count(&s, b) / slots.max(1);
                    let p = Params::new().u(tokens).u(n).u(slots).u(experts).u(n_add);
                    (p, crate::pipelines::grid_items(tokens * n, 64))
                }),
            )?;
        }
        if grouped && fold.is_some() {
            return Err(self.err("internal: a folded shared expert in a grouped (prefill) moe_down"));
        }
        let with_shared = usize::from(fold.is_some());
        for (ci, chunk) in down.chunks.iter().enumerate().filter(|_| !grouped) {
            let (lo, hi) = (chunk.start, chunk.start + chunk.len);
            let (s, s2) = (ids_shape.clone(), ids_shape.clone());
            let bufs = vec![
                chunk.buffer.clone(),
                h.clone(),
                ids.clone(),
                weights.clone(),
                adds[0].clone(),
                adds[1].clone(),
                // without a shared expert, the routed weight (never read)
                w_sh.clone().unwrap_or_else(|| chunk.buffer.clone()),
                out.clone(),
            ];
            let routed = expert_bytes_read(s2, hi - lo, expert_bytes, k);
            let shared_bytes = (with_shared * usize::from(ci == 0) * expert_bytes) as u64;
            self.push_counted(
                Kernel::MoeDown(down.dtype),
                bufs,
                Box::new(move |b| {
                    let tokens = count(&s, b) / slots.max(1);
                    let p = Params::new().u(k).u(n).u(tokens).u(slots).u(row_bytes).u(expert_bytes);
                    let p = p.u(lo).u(hi).flag(ci > 0).u(n_add).u(with_shared);
                    (p, grid(tokens * n.div_ceil(MAT_VEC_ROWS)))
                }),
                Box::new(move |b| routed(b) + shared_bytes),
            )?;
        }
        let out_shape = self.graph.node(self.node).results[0].shape.clone();
        for a in &addends[n_add..] {
            let ab = self.act(*a)?;
            let s = out_shape.clone();
            self.push(
                Kernel::AddInto,
                vec![ab, out.clone()],
                Box::new(move |b| {
                    let n = count(&s, b);
                    (Params::new().u(n), crate::pipelines::grid_items(n, 64))
                }),
            )?;
        }
        Ok(())
    }
}

/// Experts the grouped (prefill) path sorts (`MAX_E` in moe_sort.wgsl).
const SORT_MAX_E: usize = 1024;

/// The most tiles of `MAT_MUL_TILE.1` pairs that `pairs` pairs grouped by `experts` experts (and
/// one group of pairs without an expert) can make: each group's last tile may be partly empty.
fn max_tiles(pairs: usize, experts: usize) -> usize {
    pairs.div_ceil(MAT_MUL_TILE.1) + experts + 1
}

/// Bytes an expert-indexed launch reads: each distinct expert at most once (at most one per
/// (token, slot) pair, at most the chunk's experts), and one row of `k` floats per pair.
fn expert_bytes_read(ids: Shape, experts: usize, expert_bytes: usize, k: usize) -> crate::plan::BytesFn {
    Box::new(move |b| {
        let pairs = count(&ids, b);
        (pairs.min(experts) * expert_bytes + 4 * pairs * k) as u64
    })
}
