//! Quantizers for the types the CPU backend writes itself (activations for q8 dot products,
//! test data): Q8_0 and Q4_0, byte-identical with ggml's `quantize_row_*_ref`.
//!
//! The k-quant quantizers (with their importance-weighted searches) belong to llama-quantize,
//! not here.

use half::f16;
use lingot_ir::DType;

use super::{check_row, QuantError, QK};

/// Quantizes `x` into Q8_0 blocks: per 32 elements, `d = max|x| / 127` and `q = round(x / d)`.
///
/// `out` must hold exactly `x.len() / 32` blocks of 34 bytes.
pub fn quantize_row_q8_0(x: &[f32], out: &mut [u8]) -> Result<(), QuantError> {
    check_row(DType::Q8_0, out.len(), x.len())?;
    let (blocks, _) = out.as_chunks_mut::<34>();
    let (xs, _) = x.as_chunks::<QK>();
    for (b, x) in blocks.iter_mut().zip(xs) {
        let amax = x.iter().fold(0f32, |a, v| a.max(v.abs()));
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b[0..2].copy_from_slice(&f16::from_f32(d).to_le_bytes());
        for (q, &v) in b[2..].iter_mut().zip(x) {
            // |v * id| <= 127 up to rounding, and `as` saturates: never out of range.
            *q = ((v * id).round() as i8) as u8;
        }
    }
    Ok(())
}

/// Quantizes `x` into Q4_0 blocks: per 32 elements, `d = v / -8` where `v` is the element of
/// largest magnitude, and `q = min(15, trunc(x / d + 8.5))`.
///
/// `out` must hold exactly `x.len() / 32` blocks of 18 bytes.
pub fn quantize_row_q4_0(x: &[f32], out: &mut [u8]) -> Result<(), QuantError> {
    check_row(DType::Q4_0, out.len(), x.len())?;
    let (blocks, _) = out.as_chunks_mut::<18>();
    let (xs, _) = x.as_chunks::<QK>();
    for (b, x) in blocks.iter_mut().zip(xs) {
        let (mut amax, mut max) = (0f32, 0f32);
        for &v in x {
            if amax < v.abs() {
                amax = v.abs();
                max = v;
            }
        }
        let d = max / -8.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        b[0..2].copy_from_slice(&f16::from_f32(d).to_le_bytes());
        let nibble = |v: f32| ((v * id + 8.5) as i8).clamp(0, 15) as u8;
        for j in 0..QK / 2 {
            b[2 + j] = nibble(x[j]) | (nibble(x[j + QK / 2]) << 4);
        }
    }
    Ok(())
}
