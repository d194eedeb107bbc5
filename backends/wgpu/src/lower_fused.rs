//! Lowering of the fused ops that have kernels of their own: `gate_up` (a dense twin of
//! `moe_gate_up`) and `qkv_norm_rope` (one norm_rope launch: q and k heads normalized and
//! rotated, k and v written straight into their caches; eleven launches unfused).
//! `mul_mat_add` is the mat-vec / tiled product with its addend, in `lower_matrix.rs`.

use lingot_ir::exec::BackendError;
use lingot_ir::Value;

use crate::kernels::{Binary, Kernel, XRows, ATTENTION_MAX_D, MAT_VEC_MAX_B, MAT_VEC_ROWS};
use crate::pipelines::{grid, Params};
use crate::plan::{count, Loc, Planner};

impl Planner<'_, '_> {
    /// `gate_up`: silu(gate · x) * (up · x). One pass over both weights for up to eight rows of
    /// x; beyond that (or with differently stored gate and up) two products, then swiglu.
    pub fn gate_up(&mut self, ops: &[Value]) -> Result<(), BackendError> {
        let xs = self.ty(ops[0]).shape.clone();
        let gate = self.weight_of_rank(ops[1], 2, "gate_up gate")?;
        let up = self.weight_of_rank(ops[2], 2, "gate_up up")?;
        let (x, norm) = self.act_or_normed(ops[0])?;
        let out = self.out(0)?;
        let (n, k, row_bytes) = (gate.shape[0], gate.shape[1], gate.row_bytes() as usize);
        let vec_form = count(&xs, &self.cap) / k.max(1) <= MAT_VEC_MAX_B;
        if gate.dtype != up.dtype || !gate.split_like(&up) || !vec_form {
            let rows = count(&xs, &self.cap) / k.max(1);
            let (g, u) = (self.temp(rows * n)?, self.temp(rows * n)?);
            self.mul_mat_into(&gate, xs.clone(), (x.clone(), norm.clone()), g.clone(), None)?;
            self.mul_mat_into(&up, xs, (x, norm), u.clone(), None)?;
            let shape = self.graph.node(self.node).results[0].shape.clone();
            return self.binary_into(Binary::SwiGlu, (g, shape.clone()), (u, shape.clone()), (out, shape));
        }
        let (folded, eps) = (norm.is_some(), norm.as_ref().map_or(0.0, |n| n.1));
        let nw = norm.map_or_else(|| x.clone(), |n| n.0);
        if self.cap.t == 1 && gate.chunks.len() == 1 {
            // decode: moe_gate_up's kernel with one expert (id 0 in a zeroed buffer), four rows
            // a workgroup where gate_up.wgsl takes one (H100, 20 shared experts of 512 rows:
            // see BENCHMARKS.md)
            let ids = self.dedicated(4, "gate_up expert id")?;
            let expert_bytes = n * row_bytes;
            let gate_dtype = gate.dtype;
            let (gate, up) = (gate.chunks[0].buffer.clone(), up.chunks[0].buffer.clone());
            // no shared expert of its own: the shared bindings take gate and up (never read)
            let bufs = vec![gate.clone(), up.clone(), x, ids, nw, gate, up, out];
            return self.push_counted(
                Kernel::MoeGateUp(gate_dtype),
                bufs,
                Box::new(move |b| {
                    let pairs = count(&xs, b) / k.max(1);
                    let p = Params::new().u(k).u(n).u(pairs).u(1).u(row_bytes).u(expert_bytes);
                    let p = p.u(0).u(1).u(1).flag(true).flag(folded).f(eps).u(0);
                    (p, grid(pairs * n.div_ceil(MAT_VEC_ROWS)))
                }),
                Box::new(move |_| (2 * expert_bytes + 4 * k) as u64),
            );
        }
        for (gc, uc) in gate.chunks.iter().zip(&up.chunks) {
            let (n0, len) = (gc.start, gc.len);
            let (s, s2) = (xs.clone(), xs.clone());
            let bufs = vec![gc.buffer.clone(), uc.buffer.clone(), x.clone(), nw.clone(), out.clone()];
            self.push_counted(
                Kernel::GateUp(gate.dtype, XRows::of(count(&xs, &self.cap) / k.max(1))),
                bufs,
                Box::new(move |b| {
                    let rows_x = count(&s, b) / k.max(1);
                    let p = Params::new().u(k).u(len).u(n).u(n0).u(rows_x).u(row_bytes);
                    (p.flag(folded).f(eps), grid(len))
                }),
                Box::new(move |b| (2 * len * row_bytes + 4 * k * (count(&s2, b) / k.max(1))) as u64),
            )?;
        }
        Ok(())
    }

    /// `freq_scale * base^(-2j / n_rot)` for j < n_rot / 2, rounded once from f64; one buffer
    /// per setting, shared by every layer.
    pub fn rope_table(&mut self, n_rot: usize, base: f32, scale: f32) -> Result<wgpu::Buffer, BackendError> {
        let key = (n_rot, base.to_bits(), scale.to_bits());
        if let Some(t) = self.rope_tables.get(&key) {
            return Ok(t.clone());
        }
        let inv: Vec<u8> = (0..n_rot / 2)
            .flat_map(|j| {
                let f = scale as f64 * (base as f64).powf(-2.0 * j as f64 / n_rot as f64);
                (f as f32).to_le_bytes()
            })
            .collect();
        let t = self.dedicated(inv.len() as u64, "rope frequencies")?;
        crate::weights::write_padded(self.gpu, &t, &inv);
        self.rope_tables.insert(key, t.clone());
        Ok(t)
    }

    /// A KV cache this graph writes (once), for rows of `heads * d`.
    pub fn cache_for(&mut self, cache: &str, heads: usize, d: usize) -> Result<wgpu::Buffer, BackendError> {
        if self.kv_writes.iter().any(|c| c == cache) {
            return Err(self.err(format!("KV cache \"{cache}\" is written twice in one graph")));
        }
        let buffer = self.caches.buffer(self.gpu, cache, heads, d)?;
        self.kv_writes.push(cache.to_string());
        Ok(buffer)
    }

    /// `qkv_norm_rope`: one launch normalizes and rotates the q and k heads (k straight into its
    /// cache) and copies v into its cache (norm_rope.wgsl).
    pub fn qkv_norm_rope(
        &mut self,
        ops: &[Value],
        (heads, kv_heads): (usize, usize),
        eps: f32,
        (n_rot, base, scale): (usize, f32, f32),
        (k_cache, v_cache): (&str, &str),
    ) -> Result<(), BackendError> {
        let node = self.graph.node(self.node);
        let (d, dv) = (node.results[1].shape.dims()[2], node.results[2].shape.dims()[2]);
        let n = self.ty(ops[0]).shape.dims()[1];
        let (Some(d), Some(dv), Some(n)) = (d.as_const(), dv.as_const(), n.as_const()) else {
            return Err(self.err("qkv_norm_rope needs constant sizes"));
        };
        if d > ATTENTION_MAX_D {
            return Err(self.err(format!("head dim {d}; the kernel handles up to {ATTENTION_MAX_D}")));
        }
        let qkv_shape = self.ty(ops[0]).shape.clone();
        let qkv = self.act(ops[0])?;
        let (qn, kn, pos) = (self.act(ops[1])?, self.act(ops[2])?, self.act(ops[3])?);
        let table = self.rope_table(n_rot, base, scale)?;
        let q = self.out(0)?;
        let kc = self.cache_for(k_cache, kv_heads, d)?;
        let vc = self.cache_for(v_cache, kv_heads, dv)?;
        self.push(
            Kernel::NormRope,
            vec![qkv, qn, kn, pos, table, q, kc.clone(), vc.clone()],
            Box::new(move |b| {
                let t = qkv_shape.dims()[0].bind(b);
                let p = Params::new().u(t).u(heads).u(kv_heads).u(d).u(dv).f(eps);
                let p = p.u(n).u(n_rot).u(b.kv.saturating_sub(b.t));
                (p, grid(t * (heads + 2 * kv_heads)))
            }),
        )?;
        self.define(1, Loc::Act { buffer: kc, pool: None });
        self.define(2, Loc::Act { buffer: vc, pool: None });
        Ok(())
    }
}
