//! The WGSL dequantization equals the CPU's (`lingot_cpu::quant::dequantize_row`, itself checked
//! against gguf-py) bit for bit, for every weight dtype, with and without subgroups and
//! shader-f16.

mod common;

use lingot_ir::DType;
use lingot_wgpu::kernels::WEIGHT_DTYPES;

fn check(options: lingot_wgpu::WgpuOptions, seed: u64) {
    let w = common::MemWeights::default();
    let mut be = common::backend(&w, options);
    let mut r = common::rng(seed);
    for dtype in WEIGHT_DTYPES {
        // plain types: an odd row length exercises the tail path; quant types: three blocks
        let k = if dtype.is_quantized() {
            3 * dtype.block_elems()
        } else {
            37
        };
        let rows = 5;
        let bytes = common::random_weight(&mut r, dtype, rows, k);
        let got = be
            .dequantize(dtype, &bytes, rows, k)
            .unwrap_or_else(|e| panic!("{dtype}: {e}"));
        let row_bytes = dtype.row_bytes(k as u64).expect("whole blocks") as usize;
        let mut want = vec![0f32; rows * k];
        for (i, out) in want.chunks_mut(k).enumerate() {
            lingot_cpu::quant::dequantize_row(dtype, &bytes[i * row_bytes..(i + 1) * row_bytes], out)
                .expect("cpu dequant");
        }
        let mismatches: Vec<(usize, f32, f32)> = got
            .iter()
            .zip(&want)
            .enumerate()
            .filter(|(_, (g, w))| g.to_bits() != w.to_bits())
            .map(|(i, (g, w))| (i, *g, *w))
            .take(5)
            .collect();
        assert!(
            mismatches.is_empty(),
            "{dtype} ({:?}): first mismatches (index, gpu, cpu): {mismatches:?}",
            be.caps()
        );
        assert!(want.iter().any(|v| *v != 0.0), "{dtype}: test data is all zeros");
    }
}

#[test]
fn dequant_matches_cpu_bit_for_bit() {
    check(common::default_options(16), 1);
}

#[test]
fn dequant_matches_cpu_without_subgroups_or_f16() {
    check(common::portable(16), 2);
}

#[test]
fn every_weight_dtype_is_tested() {
    assert!(WEIGHT_DTYPES.contains(&DType::Q3K) && WEIGHT_DTYPES.contains(&DType::BF16));
}

/// Every half-precision bit pattern (zeros, subnormals, normals, infinities, NaNs) through the
/// integer f16 decoding the quant readers use for their scales (F16 weights without shader-f16
/// take the same function), against the `half` crate: equal bits, NaN for NaN.
#[test]
fn every_f16_bit_pattern_decodes_exactly() {
    let w = common::MemWeights::default();
    let mut be = common::backend(&w, common::portable(16));
    let bytes: Vec<u8> = (0..=u16::MAX).flat_map(|h| h.to_le_bytes()).collect();
    let got = be
        .dequantize(DType::F16, &bytes, 1, 1 << 16)
        .unwrap_or_else(|e| panic!("{e}"));
    for (h, g) in (0..=u16::MAX).zip(&got) {
        let want = half::f16::from_bits(h).to_f32();
        if want.is_nan() {
            assert!(g.is_nan(), "{h:#06x}: {g}, want NaN");
        } else {
            assert_eq!(g.to_bits(), want.to_bits(), "{h:#06x}: {g}, want {want}");
        }
    }
}
