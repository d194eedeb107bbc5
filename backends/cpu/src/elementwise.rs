//! Elementwise ops with numpy broadcasting, and the row-wise ops: `rms_norm`, `soft_max`, `rope`,
//! `sum`, `slice`.

use rayon::prelude::*;

use crate::tensor::rows_cols;

/// `f(a, b)` with numpy broadcasting. Returns the output shape and data.
pub fn binary(
    a: &[f32],
    sa: &[usize],
    b: &[f32],
    sb: &[usize],
    f: impl Fn(f32, f32) -> f32 + Sync,
) -> (Vec<usize>, Vec<f32>) {
    let n = sa.len().max(sb.len());
    let pad = |s: &[usize]| -> Vec<usize> { std::iter::repeat_n(1, n - s.len()).chain(s.iter().copied()).collect() };
    let (pa, pb) = (pad(sa), pad(sb));
    let out: Vec<usize> = pa.iter().zip(&pb).map(|(x, y)| *x.max(y)).collect();
    let total: usize = out.iter().product();
    if pa == pb {
        return (out, a.par_iter().zip(b).map(|(x, y)| f(*x, *y)).collect());
    }
    // Fast path: one side repeats along leading dims (x[t, h] * w[h]).
    if a.len() == total && total.is_multiple_of(b.len().max(1)) && is_suffix(&pb, &pa) {
        let nb = b.len();
        return (out, a.par_iter().enumerate().map(|(i, x)| f(*x, b[i % nb])).collect());
    }
    if b.len() == total && total.is_multiple_of(a.len().max(1)) && is_suffix(&pa, &pb) {
        let na = a.len();
        return (out, b.par_iter().enumerate().map(|(i, y)| f(a[i % na], *y)).collect());
    }
    let (st_a, st_b) = (broadcast_strides(&pa), broadcast_strides(&pb));
    let data = (0..total)
        .into_par_iter()
        .map(|i| {
            let (mut rem, mut ia, mut ib) = (i, 0, 0);
            for d in (0..n).rev() {
                let c = rem % out[d];
                rem /= out[d];
                ia += c * st_a[d];
                ib += c * st_b[d];
            }
            f(a[ia], b[ib])
        })
        .collect();
    (out, data)
}

/// Whether `small`, once its leading ones are dropped, equals the trailing dims of `big`.
fn is_suffix(small: &[usize], big: &[usize]) -> bool {
    let first = small.iter().position(|&d| d != 1).unwrap_or(small.len());
    let tail = &small[first..];
    big.ends_with(tail)
}

/// Row-major strides with 0 for broadcast (size-1) dims.
fn broadcast_strides(shape: &[usize]) -> Vec<usize> {
    let mut st = vec![0; shape.len()];
    let mut acc = 1;
    for d in (0..shape.len()).rev() {
        st[d] = if shape[d] == 1 { 0 } else { acc };
        acc *= shape[d];
    }
    st
}

pub fn map(x: &[f32], f: impl Fn(f32) -> f32 + Sync) -> Vec<f32> {
    x.par_iter().map(|v| f(*v)).collect()
}

pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

pub fn silu(x: f32) -> f32 {
    x * sigmoid(x)
}

/// `x / sqrt(mean(x²) + eps)` per row, as the reference: `x * rsqrt(variance + eps)`.
pub fn rms_norm(x: &[f32], shape: &[usize], eps: f32) -> Vec<f32> {
    let (_, cols) = rows_cols(shape);
    let mut out = vec![0f32; x.len()];
    out.par_chunks_mut(cols.max(1))
        .zip(x.par_chunks(cols.max(1)))
        .for_each(|(o, r)| {
            let mean = r.iter().map(|v| v * v).sum::<f32>() / cols as f32;
            let inv = 1.0 / (mean + eps).sqrt();
            for (o, v) in o.iter_mut().zip(r) {
                *o = v * inv;
            }
        });
    out
}

/// Softmax of each row, max-subtracted.
pub fn soft_max(x: &[f32], shape: &[usize]) -> Vec<f32> {
    let (_, cols) = rows_cols(shape);
    let mut out = x.to_vec();
    out.par_chunks_mut(cols.max(1)).for_each(soft_max_in_place);
    out
}

pub fn soft_max_in_place(r: &mut [f32]) {
    let max = r.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0f32;
    for v in r.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in r.iter_mut() {
        *v /= sum;
    }
}

/// NEOX RoPE on `x [t, heads, d]`: pairs `(i, i + n_rot/2)` of the first `n_rot` dims rotate by
/// `pos * freq_scale * freq_base^(-2i/n_rot)`, computed in f32 as the reference does.
pub fn rope(x: &[f32], shape: &[usize], pos: &[i32], n_rot: usize, freq_base: f32, freq_scale: f32) -> Vec<f32> {
    let (heads, d) = (shape[1], shape[2]);
    let half = n_rot / 2;
    let inv_freq: Vec<f32> = (0..half)
        .map(|i| 1.0 / freq_base.powf((2 * i) as f32 / n_rot as f32))
        .collect();
    let mut out = x.to_vec();
    out.par_chunks_mut((heads * d).max(1))
        .zip(pos.par_iter())
        .for_each(|(tok, &p)| {
            let angles: Vec<(f32, f32)> = inv_freq
                .iter()
                .map(|f| {
                    let a = p as f32 * freq_scale * f;
                    (a.cos(), a.sin())
                })
                .collect();
            for head in tok.chunks_mut(d) {
                for (i, (c, s)) in angles.iter().enumerate() {
                    let (x0, x1) = (head[i], head[i + half]);
                    head[i] = x0 * c - x1 * s;
                    head[i + half] = x1 * c + x0 * s;
                }
            }
        });
    out
}

/// Sum over `axis`, kept with size 1.
pub fn sum_axis(x: &[f32], shape: &[usize], axis: usize) -> Vec<f32> {
    let outer: usize = shape[..axis].iter().product();
    let n = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let mut out = vec![0f32; outer * inner];
    for o in 0..outer {
        for a in 0..n {
            let src = &x[(o * n + a) * inner..(o * n + a + 1) * inner];
            for (d, s) in out[o * inner..(o + 1) * inner].iter_mut().zip(src) {
                *d += s;
            }
        }
    }
    out
}

/// `len` entries of `axis` from `start`.
pub fn slice<T: Copy>(x: &[T], shape: &[usize], axis: usize, start: usize, len: usize) -> Vec<T> {
    let outer: usize = shape[..axis].iter().product();
    let n = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let mut out = Vec::with_capacity(outer * len * inner);
    for o in 0..outer {
        out.extend_from_slice(&x[(o * n + start) * inner..(o * n + start + len) * inner]);
    }
    out
}
