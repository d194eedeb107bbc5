//! Dequantization of hand-built blocks of every dtype, checked bit for bit against expected values
//! computed here from the byte layouts (no reference file holds Q4_1 or Q5_1, so this is their
//! only check), plus the error cases.
//!
//! Two kinds of check: blocks whose quants and scales are chosen by hand and packed here (the
//! expected value comes from the chosen numbers, never from unpacking), and random blocks
//! compared with a per-element decoder written from the layout in a different style from the
//! library's (ggml's `kmask` word tricks for Q3_K, gguf-py's split for Q4_K/Q5_K scales).

use half::{bf16, f16};
use lingot_cpu::quant::{dequantize_row, QuantError};
use lingot_ir::DType;

fn h(v: f32) -> [u8; 2] {
    f16::from_f32(v).to_le_bytes()
}

fn dequant(dtype: DType, bytes: &[u8]) -> Vec<f32> {
    let n = bytes.len() / dtype.block_bytes() * dtype.block_elems();
    let mut out = vec![f32::NAN; n];
    dequantize_row(dtype, bytes, &mut out).expect("dequantize");
    out
}

fn assert_bits(dtype: DType, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{dtype}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.to_bits(), w.to_bits(), "{dtype} element {i}: got {g}, want {w}");
    }
}

// ---- plain types ---------------------------------------------------------------------------

#[test]
fn plain_types_convert_exactly() {
    let f32s: Vec<u8> = [1.5f32, -0.0, 3.0e-39, f32::INFINITY]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    assert_bits(
        DType::F32,
        &dequant(DType::F32, &f32s),
        &[1.5, -0.0, 3.0e-39, f32::INFINITY],
    );

    // 1.0, -2.0, the largest f16, the smallest subnormal 2^-24.
    let f16s = [0x00, 0x3C, 0x00, 0xC0, 0xFF, 0x7B, 0x01, 0x00];
    let want = [1.0, -2.0, 65504.0, 2f32.powi(-24)];
    assert_bits(DType::F16, &dequant(DType::F16, &f16s), &want);

    // bf16 is the top half of an f32: 1.0, -3.0, 1/3 truncated.
    let bf16s = [0x80, 0x3F, 0x40, 0xC0, 0xAA, 0x3E];
    let want = [1.0, -3.0, f32::from_bits(0x3EAA_0000)];
    assert_bits(DType::BF16, &dequant(DType::BF16, &bf16s), &want);
    assert_eq!(bf16::from_f32(-3.0).to_le_bytes(), [0x40, 0xC0]);
}

// ---- legacy types, chosen values -----------------------------------------------------------

#[test]
fn q8_0_chosen_block() {
    let mut b = h(0.25).to_vec();
    b.extend((0..32).map(|j| (j as i8 * 4 - 64) as u8));
    let want: Vec<f32> = (0..32).map(|j| (j * 4 - 64) as f32 * 0.25).collect();
    assert_bits(DType::Q8_0, &dequant(DType::Q8_0, &b), &want);
}

/// Byte `j` holds element `j` in its low nibble and element `j + 16` in its high nibble.
fn pack_nibbles(q: &[u8; 32]) -> Vec<u8> {
    (0..16).map(|j| q[j] | (q[j + 16] << 4)).collect()
}

fn chosen_quants(bits: u32) -> [u8; 32] {
    std::array::from_fn(|i| ((i * 7 + 3) % (1 << bits)) as u8)
}

#[test]
fn q4_0_chosen_block() {
    let q = chosen_quants(4);
    let mut b = h(-1.5).to_vec();
    b.extend(pack_nibbles(&q));
    let want: Vec<f32> = q.iter().map(|&q| (q as f32 - 8.0) * -1.5).collect();
    assert_bits(DType::Q4_0, &dequant(DType::Q4_0, &b), &want);
}

#[test]
fn q4_1_chosen_block() {
    let q = chosen_quants(4);
    let (d, m) = (0.375f32, -2.75f32);
    let mut b = [h(d), h(m)].concat();
    b.extend(pack_nibbles(&q));
    let want: Vec<f32> = q.iter().map(|&q| q as f32 * d + m).collect();
    assert_bits(DType::Q4_1, &dequant(DType::Q4_1, &b), &want);
    // Spot checks by hand: q[0] = 3 -> 3 * 0.375 - 2.75 = -1.625; q[2] = 17 % 16 = 1 -> -2.375.
    assert_eq!(want[0], -1.625);
    assert_eq!(want[2], -2.375);
}

/// The fifth bits of 32 quants as ggml's little-endian `qh` word: bit `i` is element `i`'s.
fn pack_qh(q: &[u8; 32]) -> [u8; 4] {
    let word = (0..32).fold(0u32, |w, i| w | (u32::from(q[i] >> 4) << i));
    word.to_le_bytes()
}

fn low_nibbles(q: &[u8; 32]) -> [u8; 32] {
    q.map(|v| v & 0x0F)
}

#[test]
fn q5_0_chosen_block() {
    let q = chosen_quants(5);
    let mut b = h(0.125).to_vec();
    b.extend(pack_qh(&q));
    b.extend(pack_nibbles(&low_nibbles(&q)));
    let want: Vec<f32> = q.iter().map(|&q| (q as f32 - 16.0) * 0.125).collect();
    assert_bits(DType::Q5_0, &dequant(DType::Q5_0, &b), &want);
}

#[test]
fn q5_1_chosen_block() {
    let q = chosen_quants(5);
    let (d, m) = (0.0999f32, 1.0625f32);
    let mut b = [h(d), h(m)].concat();
    b.extend(pack_qh(&q));
    b.extend(pack_nibbles(&low_nibbles(&q)));
    let (d, m) = (f16::from_f32(d).to_f32(), f16::from_f32(m).to_f32());
    let want: Vec<f32> = q.iter().map(|&q| q as f32 * d + m).collect();
    assert_bits(DType::Q5_1, &dequant(DType::Q5_1, &b), &want);
    // Element 31 has q = (31 * 7 + 3) % 32 = 28, which needs the fifth bit.
    assert_eq!(q[31], 28);
}

// ---- k-quants, chosen values ---------------------------------------------------------------

/// Element `e` of a super-block in 2-bit layout: byte `32 * (e / 128) + e % 32` at shift
/// `2 * ((e % 128) / 32)`.
fn pack_2bit(q: &[u8; 256]) -> Vec<u8> {
    let mut out = vec![0u8; 64];
    for (e, &v) in q.iter().enumerate() {
        out[32 * (e / 128) + e % 32] |= v << (2 * ((e % 128) / 32));
    }
    out
}

/// Element `e` in 4-bit layout: byte `32 * (e / 64) + e % 32`, high nibble when `(e / 32)` is odd.
fn pack_4bit(q: &[u8; 256]) -> Vec<u8> {
    let mut out = vec![0u8; 128];
    for (e, &v) in q.iter().enumerate() {
        out[32 * (e / 64) + e % 32] |= v << (4 * ((e / 32) % 2));
    }
    out
}

fn chosen_k_quants(bits: u32) -> [u8; 256] {
    std::array::from_fn(|i| ((i * 37 + i / 16) % (1 << bits)) as u8)
}

#[test]
fn q2_k_chosen_block() {
    let q = chosen_k_quants(2);
    let sc: [u8; 16] = std::array::from_fn(|i| (i as u8 * 5) % 16);
    let mn: [u8; 16] = std::array::from_fn(|i| 15 - i as u8);
    let (d, dmin) = (0.0625f32, 0.03125f32);
    let mut b: Vec<u8> = (0..16).map(|i| sc[i] | (mn[i] << 4)).collect();
    b.extend(pack_2bit(&q));
    b.extend([h(d), h(dmin)].concat());
    let want: Vec<f32> = (0..256)
        .map(|e| (d * sc[e / 16] as f32) * q[e] as f32 - dmin * mn[e / 16] as f32)
        .collect();
    assert_bits(DType::Q2K, &dequant(DType::Q2K, &b), &want);
}

/// 16 signed 6-bit scales packed as Q3_K stores them: value + 32; low nibbles of scales 0..8 in
/// bytes 0..8, of 8..16 in the high nibbles of the same bytes; the top two bits of scale `i` at
/// bit `2 * (i / 4)` of byte `8 + i % 4`.
fn pack_q3_k_scales(s: &[i8; 16]) -> [u8; 12] {
    let mut out = [0u8; 12];
    for (i, &v) in s.iter().enumerate() {
        let u = (v + 32) as u8;
        out[i % 8] |= (u & 0x0F) << (4 * (i / 8));
        out[8 + i % 4] |= (u >> 4) << (2 * (i / 4));
    }
    out
}

#[test]
fn q3_k_chosen_block() {
    // 3-bit quants 0..8 mean -4..4: the high bit set means "no -4".
    let q = chosen_k_quants(3);
    let s: [i8; 16] = std::array::from_fn(|i| ((i * 9) % 64) as i8 - 32);
    let d = 0.01f32;
    let mut hmask = vec![0u8; 32];
    for (e, &v) in q.iter().enumerate() {
        hmask[e % 32] |= (v >> 2) << (e / 32);
    }
    let mut b = hmask;
    b.extend(pack_2bit(&q.map(|v| v & 3)));
    b.extend(pack_q3_k_scales(&s));
    b.extend(h(d));
    let d = f16::from_f32(d).to_f32();
    let want: Vec<f32> = (0..256).map(|e| (d * s[e / 16] as f32) * (q[e] as f32 - 4.0)).collect();
    assert_bits(DType::Q3K, &dequant(DType::Q3K, &b), &want);
}

/// 8 six-bit scales and mins packed as Q4_K/Q5_K store them: sub-blocks 0..4 in the low 6 bits
/// of bytes 0..4 (scales) and 4..8 (mins); sub-blocks 4..8 have their low 4 bits in the nibbles
/// of bytes 8..12 (scale low, min high) and their top 2 bits in the top bits of bytes 0..8.
fn pack_k4_scales(sc: &[u8; 8], mn: &[u8; 8]) -> [u8; 12] {
    let mut out = [0u8; 12];
    for j in 0..4 {
        out[j] = sc[j] | ((sc[j + 4] >> 4) << 6);
        out[j + 4] = mn[j] | ((mn[j + 4] >> 4) << 6);
        out[j + 8] = (sc[j + 4] & 0x0F) | ((mn[j + 4] & 0x0F) << 4);
    }
    out
}

fn chosen_scales_mins() -> ([u8; 8], [u8; 8]) {
    // Values above 15 exercise the high bits of sub-blocks 4..8.
    ([1, 63, 17, 32, 48, 5, 63, 33], [0, 7, 63, 40, 21, 63, 16, 47])
}

#[test]
fn q4_k_chosen_block() {
    let q = chosen_k_quants(4);
    let (sc, mn) = chosen_scales_mins();
    let (d, dmin) = (0.002f32, 0.0015f32);
    let mut b = [h(d), h(dmin)].concat();
    b.extend(pack_k4_scales(&sc, &mn));
    b.extend(pack_4bit(&q));
    let (d, dmin) = (f16::from_f32(d).to_f32(), f16::from_f32(dmin).to_f32());
    let want: Vec<f32> = (0..256)
        .map(|e| (d * sc[e / 32] as f32) * q[e] as f32 - dmin * mn[e / 32] as f32)
        .collect();
    assert_bits(DType::Q4K, &dequant(DType::Q4K, &b), &want);
}

#[test]
fn q5_k_chosen_block() {
    let q = chosen_k_quants(5);
    let (sc, mn) = chosen_scales_mins();
    let (d, dmin) = (0.0031f32, 0.0007f32);
    let mut b = [h(d), h(dmin)].concat();
    b.extend(pack_k4_scales(&sc, &mn));
    let mut qh = vec![0u8; 32];
    for (e, &v) in q.iter().enumerate() {
        qh[e % 32] |= (v >> 4) << (e / 32);
    }
    b.extend(qh);
    b.extend(pack_4bit(&q.map(|v| v & 0x0F)));
    let (d, dmin) = (f16::from_f32(d).to_f32(), f16::from_f32(dmin).to_f32());
    let want: Vec<f32> = (0..256)
        .map(|e| (d * sc[e / 32] as f32) * q[e] as f32 - dmin * mn[e / 32] as f32)
        .collect();
    assert_bits(DType::Q5K, &dequant(DType::Q5K, &b), &want);
}

#[test]
fn q6_k_chosen_block() {
    // Element e = 128 * half + 32 * k + l: low nibble in ql[64 * half + 32 * (k % 2) + l]
    // (high nibble when k >= 2), top two bits at bit 2k of qh[32 * half + l].
    let q = chosen_k_quants(6);
    let s: [i8; 16] = std::array::from_fn(|i| ((i * 19) % 128) as i8 - 64);
    let d = 0.0123f32;
    let (mut ql, mut qh) = (vec![0u8; 128], vec![0u8; 64]);
    for (e, &v) in q.iter().enumerate() {
        let (half, k, l) = (e / 128, (e % 128) / 32, e % 32);
        ql[64 * half + 32 * (k % 2) + l] |= (v & 0x0F) << (4 * (k / 2));
        qh[32 * half + l] |= (v >> 4) << (2 * k);
    }
    let mut b = ql;
    b.extend(qh);
    b.extend(s.map(|v| v as u8));
    b.extend(h(d));
    let d = f16::from_f32(d).to_f32();
    let want: Vec<f32> = (0..256)
        .map(|e| (d * s[e / 16] as f32) * (q[e] as f32 - 32.0))
        .collect();
    assert_bits(DType::Q6K, &dequant(DType::Q6K, &b), &want);
}

// ---- errors --------------------------------------------------------------------------------

#[test]
fn i32_is_not_dequantized() {
    let mut out = [0f32; 2];
    let err = dequantize_row(DType::I32, &[0u8; 8], &mut out).unwrap_err();
    assert_eq!(err, QuantError::NotFloat { dtype: DType::I32 });
}

#[test]
fn wrong_byte_lengths_are_errors() {
    for dtype in DType::ALL.into_iter().filter(|d| *d != DType::I32) {
        let n = 2 * dtype.block_elems();
        let mut out = vec![0f32; n];
        let good = 2 * dtype.block_bytes();
        for got in [good - 1, good + 1, good + dtype.block_bytes(), 0] {
            let err = dequantize_row(dtype, &vec![0u8; got], &mut out).unwrap_err();
            let want = QuantError::ByteLength {
                dtype,
                elems: n,
                expected: good,
                got,
            };
            assert_eq!(err, want, "{dtype} with {got} bytes");
        }
        dequantize_row(dtype, &vec![0u8; good], &mut out).expect("right length");
    }
}

#[test]
fn partial_blocks_are_errors() {
    for dtype in DType::ALL.into_iter().filter(|d| d.is_quantized()) {
        let n = dtype.block_elems() + 1;
        let mut out = vec![0f32; n];
        let err = dequantize_row(dtype, &vec![0u8; 2 * dtype.block_bytes()], &mut out).unwrap_err();
        let block = dtype.block_elems();
        assert_eq!(err, QuantError::PartialBlock { dtype, elems: n, block });
        assert!(err.to_string().contains(dtype.name()), "{err}");
    }
}

#[test]
fn empty_rows_are_fine() {
    for dtype in DType::ALL.into_iter().filter(|d| *d != DType::I32) {
        dequantize_row(dtype, &[], &mut []).expect("empty row");
    }
}
