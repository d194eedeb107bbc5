//! `get_rows`, `mul_mat` and `mul_mat_id`: the ops that read weight rows, dequantized on use.
//!
//! Every output element is one [`dot`] of a weight row with an activation row, so a token's
//! result never depends on which other tokens share its batch.

use rayon::prelude::*;

use crate::tensor::{dot, Matrix};
use crate::CpuError;

/// Weight rows handled by one rayon task.
const ROWS_PER_TASK: usize = 16;

/// `table[ids[i]]` for every id: `[n_ids, cols]`.
pub fn get_rows(table: &Matrix, n_rows: usize, cols: usize, ids: &[i32]) -> Result<Vec<f32>, CpuError> {
    let mut out = vec![0f32; ids.len() * cols];
    for (&id, row) in ids.iter().zip(out.chunks_mut(cols.max(1))) {
        let i = usize::try_from(id).ok().filter(|&i| i < n_rows);
        let i = i.ok_or_else(|| CpuError(format!("get_rows: id {id} is outside 0..{n_rows}")))?;
        table.row(i, row)?;
    }
    Ok(out)
}

/// `x [m, k] · wᵀ` with `w [n, k]`: returns `[m, n]`.
pub fn mul_mat(w: &Matrix, n: usize, k: usize, x: &[f32]) -> Result<Vec<f32>, CpuError> {
    let m = x.len().checked_div(k).unwrap_or(0);
    // Computed as [n, m] (one weight row against every token), then transposed.
    let mut out_t = vec![0f32; n * m];
    out_t
        .par_chunks_mut((ROWS_PER_TASK * m).max(1))
        .enumerate()
        .try_for_each(|(task, chunk)| -> Result<(), CpuError> {
            let mut row = vec![0f32; k];
            for (r, out_row) in chunk.chunks_mut(m.max(1)).enumerate() {
                w.row(task * ROWS_PER_TASK + r, &mut row)?;
                for (o, xr) in out_row.iter_mut().zip(x.chunks_exact(k.max(1))) {
                    *o = dot(&row, xr);
                }
            }
            Ok(())
        })?;
    Ok(transpose(&out_t, n, m))
}

fn transpose(a: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; a.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = a[r * cols + c];
        }
    }
    out
}

/// Expert-indexed product. `w` holds `e` experts of `[n, k]` (`w_shape` = `[e, n, k]`); `x` is
/// `[t, j, k]` with `j` = 1 or `slots`; `ids` is `[t, slots]`. Returns `[t, slots, n]`.
pub fn mul_mat_id(
    w: &Matrix,
    w_shape: &[usize],
    x: &[f32],
    j: usize,
    ids: &[i32],
    slots: usize,
) -> Result<Vec<f32>, CpuError> {
    let (e, n, k) = (w_shape[0], w_shape[1], w_shape[2]);
    let t = ids.len().checked_div(slots).unwrap_or(0);
    // Group (token, slot) pairs by expert so each expert's rows are dequantized once.
    let mut by_expert: Vec<Vec<usize>> = vec![vec![]; e];
    for (pair, &id) in ids.iter().enumerate() {
        let ex = usize::try_from(id).ok().filter(|&x| x < e);
        let ex = ex.ok_or_else(|| CpuError(format!("mul_mat_id: expert id {id} is outside 0..{e}")))?;
        by_expert[ex].push(pair);
    }
    let x_row = |pair: usize| {
        let (tok, slot) = (pair / slots, pair % slots);
        let r = tok * j + if j == 1 { 0 } else { slot };
        &x[r * k..(r + 1) * k]
    };
    let tasks: Vec<(usize, usize)> = (0..e)
        .filter(|ex| !by_expert[*ex].is_empty())
        .flat_map(|ex| (0..n).step_by(ROWS_PER_TASK).map(move |r0| (ex, r0)))
        .collect();
    let results: Vec<Vec<f32>> = tasks
        .par_iter()
        .map(|&(ex, r0)| -> Result<Vec<f32>, CpuError> {
            let pairs = &by_expert[ex];
            let rows = ROWS_PER_TASK.min(n - r0);
            let mut row = vec![0f32; k];
            let mut part = vec![0f32; rows * pairs.len()];
            for r in 0..rows {
                w.row(ex * n + r0 + r, &mut row)?;
                for (p, &pair) in pairs.iter().enumerate() {
                    part[r * pairs.len() + p] = dot(&row, x_row(pair));
                }
            }
            Ok(part)
        })
        .collect::<Result<_, _>>()?;
    let mut out = vec![0f32; t * slots * n];
    for (&(ex, r0), part) in tasks.iter().zip(&results) {
        let pairs = &by_expert[ex];
        for (r, vals) in part.chunks(pairs.len()).enumerate() {
            for (&pair, &v) in pairs.iter().zip(vals) {
                out[pair * n + r0 + r] = v;
            }
        }
    }
    Ok(out)
}
