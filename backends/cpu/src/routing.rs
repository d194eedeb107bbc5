//! The routing ops: `argsort`, `top_k`, `group_mask`, `gather` and the fused `moe_router`.
//!
//! All work on one token (row) at a time: a token's experts never depend on its batch.

use rayon::prelude::*;

use crate::elementwise::sigmoid;

/// Indices of a row sorted by value; ties keep the lower index first.
pub fn argsort_row(r: &[f32], descending: bool) -> Vec<i32> {
    let mut idx: Vec<i32> = (0..r.len() as i32).collect();
    idx.sort_by(|&a, &b| {
        let (x, y) = (r[a as usize], r[b as usize]);
        let ord = if descending { y.total_cmp(&x) } else { x.total_cmp(&y) };
        ord.then(a.cmp(&b))
    });
    idx
}

pub fn argsort(x: &[f32], cols: usize, descending: bool) -> Vec<i32> {
    x.par_chunks(cols.max(1))
        .flat_map_iter(|r| argsort_row(r, descending))
        .collect()
}

/// Indices of the `k` largest of a row, largest first (ties: lower index first).
pub fn top_k_row(r: &[f32], k: usize) -> Vec<i32> {
    let mut idx = argsort_row(r, true);
    idx.truncate(k);
    idx
}

pub fn top_k(x: &[f32], cols: usize, k: usize) -> Vec<i32> {
    x.par_chunks(cols.max(1)).flat_map_iter(|r| top_k_row(r, k)).collect()
}

/// Per token: keep the `keep` groups whose two best scores sum highest; the rest become -inf.
pub fn group_mask_row(r: &mut [f32], groups: usize, keep: usize) {
    let per = r.len() / groups;
    let scores: Vec<f32> = r
        .chunks(per)
        .map(|g| {
            let best = top_k_row(g, 2.min(g.len()));
            best.iter().map(|&i| g[i as usize]).sum()
        })
        .collect();
    let kept = top_k_row(&scores, keep);
    for (gi, g) in r.chunks_mut(per).enumerate() {
        if !kept.contains(&(gi as i32)) {
            g.fill(f32::NEG_INFINITY);
        }
    }
}

pub fn group_mask(x: &[f32], cols: usize, groups: usize, keep: usize) -> Vec<f32> {
    let mut out = x.to_vec();
    out.par_chunks_mut(cols.max(1))
        .for_each(|r| group_mask_row(r, groups, keep));
    out
}

/// `out[.., j] = x[.., idx[.., j]]`.
pub fn gather(x: &[f32], cols: usize, idx: &[i32], k: usize) -> Result<Vec<f32>, String> {
    x.chunks(cols.max(1))
        .zip(idx.chunks(k.max(1)))
        .flat_map(|(r, ix)| ix.iter().map(move |&i| r.get(i as usize).copied().ok_or(i)))
        .collect::<Result<Vec<f32>, i32>>()
        .map_err(|i| format!("gather: index {i} is outside 0..{cols}"))
}

/// Settings of the fused router.
pub struct Router {
    pub groups: usize,
    pub keep: usize,
    pub k: usize,
    pub norm: bool,
    pub scale: f32,
}

impl Router {
    /// `(ids [t, k], weights [t, k])` from router logits `[t, E]` and the expert bias `[E]`.
    pub fn route(&self, logits: &[f32], bias: &[f32]) -> (Vec<i32>, Vec<f32>) {
        let e = bias.len();
        let per_token: Vec<(Vec<i32>, Vec<f32>)> = logits
            .par_chunks(e.max(1))
            .map(|l| {
                let s: Vec<f32> = l.iter().map(|v| sigmoid(*v)).collect();
                let mut b: Vec<f32> = s.iter().zip(bias).map(|(s, b)| s + b).collect();
                group_mask_row(&mut b, self.groups, self.keep);
                let ids = top_k_row(&b, self.k);
                let mut w: Vec<f32> = ids.iter().map(|&i| s[i as usize]).collect();
                if self.norm {
                    let sum = w.iter().sum::<f32>() + 1e-20;
                    w.iter_mut().for_each(|v| *v /= sum);
                }
                w.iter_mut().for_each(|v| *v *= self.scale);
                (ids, w)
            })
            .collect();
        per_token
            .into_iter()
            .fold((vec![], vec![]), |(mut i, mut w), (ti, tw)| {
                i.extend(ti);
                w.extend(tw);
                (i, w)
            })
    }
}
