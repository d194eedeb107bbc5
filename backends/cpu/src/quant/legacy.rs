//! Block decoders of the 32-element ("legacy") quant types: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1.
//!
//! Each mirrors ggml's `dequantize_row_*` expression for expression: the integer quant is formed
//! first, converted to f32 exactly, then `q * d` (or `q * d + m`). In the 4- and 5-bit types byte
//! `j` of `qs` holds element `j` in its low nibble and element `j + 16` in its high nibble; in the
//! 5-bit types bit `i` of the little-endian `qh` word is the fifth bit of element `i`.

use super::{f16_at, QK};

/// `d: f16`, `qs: [i8; 32]`.
pub(super) fn q8_0(b: &[u8; 34], y: &mut [f32; QK]) {
    let d = f16_at(b, 0);
    for (y, &q) in y.iter_mut().zip(&b[2..]) {
        *y = f32::from(q as i8) * d;
    }
}

/// `d: f16`, `qs: [u8; 16]`; x = (q - 8) * d.
pub(super) fn q4_0(b: &[u8; 18], y: &mut [f32; QK]) {
    let d = f16_at(b, 0);
    let qs = &b[2..18];
    for j in 0..QK / 2 {
        let x0 = i32::from(qs[j] & 0x0F) - 8;
        let x1 = i32::from(qs[j] >> 4) - 8;
        y[j] = x0 as f32 * d;
        y[j + QK / 2] = x1 as f32 * d;
    }
}

/// `d: f16`, `m: f16`, `qs: [u8; 16]`; x = q * d + m.
pub(super) fn q4_1(b: &[u8; 20], y: &mut [f32; QK]) {
    let d = f16_at(b, 0);
    let m = f16_at(b, 2);
    let qs = &b[4..20];
    for j in 0..QK / 2 {
        let x0 = f32::from(qs[j] & 0x0F);
        let x1 = f32::from(qs[j] >> 4);
        y[j] = x0 * d + m;
        y[j + QK / 2] = x1 * d + m;
    }
}

/// `d: f16`, `qh: u32`, `qs: [u8; 16]`; x = (q - 16) * d.
pub(super) fn q5_0(b: &[u8; 22], y: &mut [f32; QK]) {
    let d = f16_at(b, 0);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    let qs = &b[6..22];
    for j in 0..QK / 2 {
        let (lo, hi) = five_bit_pair(qs[j], qh, j);
        y[j] = (lo - 16) as f32 * d;
        y[j + QK / 2] = (hi - 16) as f32 * d;
    }
}

/// `d: f16`, `m: f16`, `qh: u32`, `qs: [u8; 16]`; x = q * d + m.
pub(super) fn q5_1(b: &[u8; 24], y: &mut [f32; QK]) {
    let d = f16_at(b, 0);
    let m = f16_at(b, 2);
    let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    let qs = &b[8..24];
    for j in 0..QK / 2 {
        let (lo, hi) = five_bit_pair(qs[j], qh, j);
        y[j] = lo as f32 * d + m;
        y[j + QK / 2] = hi as f32 * d + m;
    }
}

/// The 5-bit quants of elements `j` and `j + 16`: nibbles of `q` plus bits `j`, `j + 16` of `qh`.
fn five_bit_pair(q: u8, qh: u32, j: usize) -> (i32, i32) {
    let h0 = ((qh >> j) & 1) << 4;
    let h1 = ((qh >> (j + QK / 2)) & 1) << 4;
    // Both values are below 32, so the casts are exact.
    ((u32::from(q & 0x0F) | h0) as i32, (u32::from(q >> 4) | h1) as i32)
}
