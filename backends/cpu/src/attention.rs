//! Causal attention over the KV cache, f32 throughout.

use rayon::prelude::*;

use crate::tensor::dot;

/// Shapes of one attention call.
pub struct Dims {
    pub t: usize,
    pub kv: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub d: usize,
    pub dv: usize,
}

/// `q [t, heads, d]`, `k [kv, kv_heads, d]`, `v [kv, kv_heads, dv]` → `[t, heads, dv]`. Query i
/// sits at position `kv - t + i` and sees keys `0..=` that position.
pub fn attention(q: &[f32], k: &[f32], v: &[f32], dims: &Dims, scale: f32) -> Vec<f32> {
    let Dims {
        t,
        kv,
        heads,
        kv_heads,
        d,
        dv,
    } = *dims;
    let group = heads / kv_heads;
    let mut out = vec![0f32; t * heads * dv];
    out.par_chunks_mut(dv.max(1)).enumerate().for_each(|(qi, o)| {
        let (i, h) = (qi / heads, qi % heads);
        let hk = h / group;
        let pos = kv - t + i;
        let qv = &q[(i * heads + h) * d..][..d];
        let mut w: Vec<f32> = (0..=pos)
            .map(|j| dot(qv, &k[(j * kv_heads + hk) * d..][..d]) * scale)
            .collect();
        crate::elementwise::soft_max_in_place(&mut w);
        for (j, wj) in w.iter().enumerate() {
            let vr = &v[(j * kv_heads + hk) * dv..][..dv];
            for (o, x) in o.iter_mut().zip(vr) {
                *o += wj * x;
            }
        }
    });
    out
}
