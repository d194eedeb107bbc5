//! Turning stored weights into f32: dequantization of every [`DType`] a tensor may hold, and a
//! dot product of a quantized row with f32 activations.
//!
//! Dequantization is bit-exact with ggml's `dequantize_row_*` (ggml-quants.c) and gguf-py's
//! `gguf/quants.py`: each value is computed with the same f32 expression in the same order
//! (a scale times a sub-block scale first, then times the quant, then the min subtracted), and
//! Rust never contracts `a * b - c` into a fused multiply-add, so the roundings agree. (The
//! products of an f16 scale with 6- and 8-bit integers are exact in f32 anyway; only the final
//! `+ m` / `- min` rounds, which is why those must stay separate operations.)
//!
//! The per-type block decoders live in [`legacy`] (the 32-element types) and [`kquant`] (the
//! 256-element super-block types); [`quantize`] holds the few quantizers the backend needs.
//! What must not live here: anything about tensors, shapes or graphs; this module sees one row
//! of bytes at a time.

mod kquant;
mod legacy;
mod quantize;

use half::{bf16, f16};
use lingot_ir::DType;

pub use quantize::{quantize_row_q4_0, quantize_row_q8_0};

/// Elements per block of the legacy quant types (Q4_0 … Q8_0).
const QK: usize = 32;
/// Elements per super-block of the k-quant types.
const QK_K: usize = 256;

/// Why a row could not be dequantized. Each names the dtype and the sizes involved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantError {
    #[error("{dtype} holds integers, not numbers that dequantize to f32")]
    NotFloat { dtype: DType },
    #[error("a {dtype} row of {elems} elements is not a whole number of {block}-element blocks")]
    PartialBlock { dtype: DType, elems: usize, block: usize },
    #[error("a {dtype} row of {elems} elements takes {expected} bytes, got {got}")]
    ByteLength {
        dtype: DType,
        elems: usize,
        expected: usize,
        got: usize,
    },
}

/// Dequantizes one row: `bytes` holds exactly `out.len() / dtype.block_elems()` blocks of `dtype`.
///
/// Works for the plain float types too (F32, F16, BF16 are converted exactly); I32 is an error.
pub fn dequantize_row(dtype: DType, bytes: &[u8], out: &mut [f32]) -> Result<(), QuantError> {
    check_row(dtype, bytes.len(), out.len())?;
    match dtype {
        DType::F32 => {
            for (y, b) in out.iter_mut().zip(bytes.as_chunks::<4>().0) {
                *y = f32::from_le_bytes(*b);
            }
        }
        DType::F16 => {
            for (y, b) in out.iter_mut().zip(bytes.as_chunks::<2>().0) {
                *y = f16::from_le_bytes(*b).to_f32();
            }
        }
        DType::BF16 => {
            for (y, b) in out.iter_mut().zip(bytes.as_chunks::<2>().0) {
                *y = bf16::from_le_bytes(*b).to_f32();
            }
        }
        DType::I32 => return Err(QuantError::NotFloat { dtype }),
        DType::Q8_0 => for_blocks(bytes, out, legacy::q8_0),
        DType::Q4_0 => for_blocks(bytes, out, legacy::q4_0),
        DType::Q4_1 => for_blocks(bytes, out, legacy::q4_1),
        DType::Q5_0 => for_blocks(bytes, out, legacy::q5_0),
        DType::Q5_1 => for_blocks(bytes, out, legacy::q5_1),
        DType::Q2K => for_blocks(bytes, out, kquant::q2_k),
        DType::Q3K => for_blocks(bytes, out, kquant::q3_k),
        DType::Q4K => for_blocks(bytes, out, kquant::q4_k),
        DType::Q5K => for_blocks(bytes, out, kquant::q5_k),
        DType::Q6K => for_blocks(bytes, out, kquant::q6_k),
    }
    Ok(())
}

/// Elements dequantized at a time by [`dot_row`]: a multiple of every block size.
const DOT_CHUNK: usize = QK_K;
/// Independent f32 accumulators in [`dot_row`], so the loop vectorizes.
const DOT_LANES: usize = 8;

/// Dot product of a quantized row with f32 activations `x`, accumulated in f32.
///
/// Equals `dot(dequantize_row(bytes), x)` up to f32 summation order. The order is fixed (so the
/// result is deterministic): element `i` goes into accumulator `i % 8`, the eight accumulators
/// are added pairwise at the end.
pub fn dot_row(dtype: DType, bytes: &[u8], x: &[f32]) -> Result<f32, QuantError> {
    check_row(dtype, bytes.len(), x.len())?;
    let chunk_bytes = DOT_CHUNK / dtype.block_elems() * dtype.block_bytes();
    let mut w = [0f32; DOT_CHUNK];
    let mut acc = [0f32; DOT_LANES];
    for (b, xs) in bytes.chunks(chunk_bytes).zip(x.chunks(DOT_CHUNK)) {
        let w = &mut w[..xs.len()];
        dequantize_row(dtype, b, w)?;
        let (wl, wrest) = w.as_chunks::<DOT_LANES>();
        let (xl, xrest) = xs.as_chunks::<DOT_LANES>();
        for (wv, xv) in wl.iter().zip(xl) {
            for k in 0..DOT_LANES {
                acc[k] += wv[k] * xv[k];
            }
        }
        // Only plain types of odd length get here; their tail starts at a multiple of 8.
        for (k, (wi, xi)) in wrest.iter().zip(xrest).enumerate() {
            acc[k] += wi * xi;
        }
    }
    let [a0, a1, a2, a3, a4, a5, a6, a7] = acc;
    Ok(((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)))
}

/// Checks that `bytes` bytes hold exactly `elems` elements of `dtype`.
fn check_row(dtype: DType, bytes: usize, elems: usize) -> Result<(), QuantError> {
    if dtype == DType::I32 {
        return Err(QuantError::NotFloat { dtype });
    }
    let block = dtype.block_elems();
    if !elems.is_multiple_of(block) {
        return Err(QuantError::PartialBlock { dtype, elems, block });
    }
    // At most 4 bytes per element (F32), and `elems` f32s already fit in memory: no overflow.
    let expected = elems / block * dtype.block_bytes();
    if expected != bytes {
        return Err(QuantError::ByteLength {
            dtype,
            elems,
            expected,
            got: bytes,
        });
    }
    Ok(())
}

/// Runs a block decoder over a row whose length [`check_row`] has checked.
fn for_blocks<const B: usize, const E: usize>(bytes: &[u8], out: &mut [f32], decode: impl Fn(&[u8; B], &mut [f32; E])) {
    let (blocks, _) = bytes.as_chunks::<B>();
    let (outs, _) = out.as_chunks_mut::<E>();
    for (b, y) in blocks.iter().zip(outs) {
        decode(b, y);
    }
}

/// The little-endian f16 at byte `at` of a block, as f32 (exact).
fn f16_at(b: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}
