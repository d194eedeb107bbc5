//! Random blocks of every quant type, dequantized and compared bit for bit with a per-element
//! decoder written here in a different style from the library (element index -> bytes, ggml's
//! `kmask` word trick for Q3_K scales, gguf-py's three-group split for Q4_K/Q5_K scales and its
//! reshape order for Q6_K); then `dot_row` against an f64 dot of the dequantized row.

use half::f16;
use lingot_cpu::quant::{dequantize_row, dot_row, QuantError};
use lingot_ir::DType;
use rand::{rngs::StdRng, Rng, SeedableRng};

fn hv(b: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}

/// Byte offsets of the f16 fields of each block.
fn f16_fields(dtype: DType) -> &'static [usize] {
    match dtype {
        DType::Q8_0 | DType::Q4_0 | DType::Q5_0 => &[0],
        DType::Q4_1 | DType::Q5_1 | DType::Q4K | DType::Q5K => &[0, 2],
        DType::Q2K => &[80, 82],
        DType::Q3K => &[108],
        DType::Q6K => &[208],
        DType::F32 | DType::F16 | DType::BF16 | DType::I32 => &[],
    }
}

const QUANTS: [DType; 10] = [
    DType::Q8_0,
    DType::Q4_0,
    DType::Q4_1,
    DType::Q5_0,
    DType::Q5_1,
    DType::Q2K,
    DType::Q3K,
    DType::Q4K,
    DType::Q5K,
    DType::Q6K,
];

/// Random bytes with finite f16 scales of either sign and a wide range of magnitudes.
fn random_row(rng: &mut StdRng, dtype: DType, blocks: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; blocks * dtype.block_bytes()];
    rng.fill(&mut bytes[..]);
    for block in bytes.chunks_exact_mut(dtype.block_bytes()) {
        for &at in f16_fields(dtype) {
            let v = rng.random_range(-1.0f32..1.0) * 2f32.powi(rng.random_range(-20..4));
            block[at..at + 2].copy_from_slice(&f16::from_f32(v).to_le_bytes());
        }
    }
    bytes
}

/// Element `e` (0..block_elems) of one block, straight from the layout.
fn spec(dtype: DType, b: &[u8], e: usize) -> f32 {
    match dtype {
        DType::Q8_0 => (b[2 + e] as i8) as f32 * hv(b, 0),
        DType::Q4_0 => (nibble(&b[2..], e) as f32 - 8.0) * hv(b, 0),
        DType::Q4_1 => nibble(&b[4..], e) as f32 * hv(b, 0) + hv(b, 2),
        DType::Q5_0 => (five_bit(&b[2..6], &b[6..], e) as f32 - 16.0) * hv(b, 0),
        DType::Q5_1 => five_bit(&b[4..8], &b[8..], e) as f32 * hv(b, 0) + hv(b, 2),
        DType::Q2K => {
            let sc = b[e / 16];
            let q = (b[16 + 32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
            (hv(b, 80) * (sc & 15) as f32) * q as f32 - hv(b, 82) * (sc >> 4) as f32
        }
        DType::Q3K => {
            let s = q3_k_scales_kmask(&b[96..108]);
            let low = (b[32 + 32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
            let high = (b[e % 32] >> (e / 32)) & 1;
            let q = low as i32 - if high == 1 { 0 } else { 4 };
            (hv(b, 108) * s[e / 16] as f32) * q as f32
        }
        DType::Q4K => {
            let (sc, mn) = k4_scales_split(&b[4..16]);
            let q = (b[16 + 32 * (e / 64) + e % 32] >> (4 * ((e / 32) % 2))) & 15;
            (hv(b, 0) * sc[e / 32] as f32) * q as f32 - hv(b, 2) * mn[e / 32] as f32
        }
        DType::Q5K => {
            let (sc, mn) = k4_scales_split(&b[4..16]);
            let low = (b[48 + 32 * (e / 64) + e % 32] >> (4 * ((e / 32) % 2))) & 15;
            let high = (b[16 + e % 32] >> (e / 32)) & 1;
            let q = low + 16 * high;
            (hv(b, 0) * sc[e / 32] as f32) * q as f32 - hv(b, 2) * mn[e / 32] as f32
        }
        DType::Q6K => {
            // gguf-py: ql as (2 halves, 2 shifts, 64 bytes), qh as (2 halves, 4 shifts, 32 bytes).
            let (half, r) = (e / 128, e % 128);
            let low = (b[64 * half + r % 64] >> (4 * (r / 64))) & 15;
            let high = (b[128 + 32 * half + r % 32] >> (2 * (r / 32))) & 3;
            let q = (low | (high << 4)) as i32 - 32;
            (hv(b, 208) * (b[192 + e / 16] as i8) as f32) * q as f32
        }
        DType::F32 | DType::F16 | DType::BF16 | DType::I32 => unreachable!("not a quant type"),
    }
}

fn nibble(qs: &[u8], e: usize) -> u8 {
    if e < 16 {
        qs[e] & 15
    } else {
        qs[e - 16] >> 4
    }
}

fn five_bit(qh: &[u8], qs: &[u8], e: usize) -> u8 {
    nibble(qs, e) | (((qh[e / 8] >> (e % 8)) & 1) << 4)
}

/// ggml's unpacking of the Q3_K scales with 32-bit words and masks.
fn q3_k_scales_kmask(s: &[u8]) -> [i8; 16] {
    let word = |i: usize| u32::from_le_bytes([s[4 * i], s[4 * i + 1], s[4 * i + 2], s[4 * i + 3]]);
    let (kmask1, kmask2) = (0x0303_0303u32, 0x0f0f_0f0fu32);
    let (a0, a1, tmp) = (word(0), word(1), word(2));
    let aux = [
        (a0 & kmask2) | ((tmp & kmask1) << 4),
        (a1 & kmask2) | (((tmp >> 2) & kmask1) << 4),
        ((a0 >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4),
        ((a1 >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4),
    ];
    let bytes: Vec<u8> = aux.iter().flat_map(|w| w.to_le_bytes()).collect();
    std::array::from_fn(|i| bytes[i] as i8 - 32)
}

/// gguf-py's unpacking of Q4_K/Q5_K scales: bytes as three groups `d`, `m`, `m_d` of four.
fn k4_scales_split(s: &[u8]) -> ([u8; 8], [u8; 8]) {
    let (d, m, md) = (&s[0..4], &s[4..8], &s[8..12]);
    let sc = std::array::from_fn(|j| {
        if j < 4 {
            d[j] & 0x3F
        } else {
            (md[j - 4] & 0x0F) | ((d[j - 4] >> 2) & 0x30)
        }
    });
    let mn = std::array::from_fn(|j| {
        if j < 4 {
            m[j] & 0x3F
        } else {
            (md[j - 4] >> 4) | ((m[j - 4] >> 2) & 0x30)
        }
    });
    (sc, mn)
}

#[test]
fn random_blocks_match_the_layout_bit_for_bit() {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    for dtype in QUANTS {
        for _ in 0..20 {
            let blocks = 3;
            let bytes = random_row(&mut rng, dtype, blocks);
            let mut out = vec![f32::NAN; blocks * dtype.block_elems()];
            dequantize_row(dtype, &bytes, &mut out).expect("dequantize");
            for (i, &got) in out.iter().enumerate() {
                let (blk, e) = (i / dtype.block_elems(), i % dtype.block_elems());
                let block = &bytes[blk * dtype.block_bytes()..][..dtype.block_bytes()];
                let want = spec(dtype, block, e);
                assert_eq!(got.to_bits(), want.to_bits(), "{dtype} element {i}: {got} vs {want}");
            }
        }
    }
}

fn dot_f64(w: &[f32], x: &[f32]) -> (f64, f64) {
    let dot = w.iter().zip(x).map(|(&a, &b)| a as f64 * b as f64).sum();
    let mag = w.iter().zip(x).map(|(&a, &b)| (a as f64 * b as f64).abs()).sum();
    (dot, mag)
}

#[test]
fn dot_row_equals_dequantize_then_dot() {
    let mut rng = StdRng::seed_from_u64(42);
    for dtype in QUANTS {
        // 1 block, a few blocks, and more than one 256-element chunk with a partial last chunk.
        for elems in [dtype.block_elems(), 4 * dtype.block_elems(), 768 + 32 * 3] {
            if elems % dtype.block_elems() != 0 {
                continue;
            }
            let bytes = random_row(&mut rng, dtype, elems / dtype.block_elems());
            let x: Vec<f32> = (0..elems).map(|_| rng.random_range(-2.0..2.0)).collect();
            let mut w = vec![0f32; elems];
            dequantize_row(dtype, &bytes, &mut w).expect("dequantize");
            let (want, mag) = dot_f64(&w, &x);
            let got = dot_row(dtype, &bytes, &x).expect("dot") as f64;
            let tol = mag * elems as f64 * f32::EPSILON as f64;
            assert!((got - want).abs() <= tol, "{dtype} n={elems}: {got} vs {want}");
        }
    }
}

#[test]
fn dot_row_on_plain_types_of_odd_length() {
    let mut rng = StdRng::seed_from_u64(7);
    for n in [1usize, 7, 13, 300] {
        let w: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let x: Vec<f32> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let as_f16: Vec<f32> = w.iter().map(|&v| f16::from_f32(v).to_f32()).collect();
        let rows: [(DType, Vec<u8>, &[f32]); 2] = [
            (DType::F32, w.iter().flat_map(|v| v.to_le_bytes()).collect(), &w),
            (
                DType::F16,
                w.iter().flat_map(|&v| f16::from_f32(v).to_le_bytes()).collect(),
                &as_f16,
            ),
        ];
        for (dtype, bytes, exact) in rows {
            let (want, mag) = dot_f64(exact, &x);
            let got = dot_row(dtype, &bytes, &x).expect("dot") as f64;
            assert!((got - want).abs() <= mag * n as f64 * 1.2e-7, "{dtype} n={n}");
        }
    }
}

#[test]
fn dot_row_checks_lengths() {
    let x = vec![0f32; 64];
    let err = dot_row(DType::Q8_0, &[0u8; 34], &x).unwrap_err();
    let want = QuantError::ByteLength {
        dtype: DType::Q8_0,
        elems: 64,
        expected: 68,
        got: 34,
    };
    assert_eq!(err, want);
    assert!(matches!(
        dot_row(DType::I32, &[0u8; 4], &[0.0]),
        Err(QuantError::NotFloat { .. })
    ));
}
