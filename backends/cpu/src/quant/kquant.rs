//! Block decoders of the 256-element super-block ("k-quant") types: Q2_K, Q3_K, Q4_K, Q5_K, Q6_K.
//!
//! Each super-block has one or two f16 super-scales and a small scale (and min) per sub-block of
//! 16 or 32 elements. ggml computes `d * sub_scale` (and `dmin * sub_min`) once per sub-block as
//! f32 and only then `that * q - min`; we do the same, since any other grouping rounds
//! differently. The quants of a 128-element half are spread over 32 bytes at 2-bit shifts (Q2_K,
//! Q3_K) or 64 bytes at 4-bit shifts (Q4_K, Q5_K, Q6_K); the comments on each function give the
//! element order.

use super::{f16_at, QK_K};

/// `scales: [u8; 16]` (low nibble scale, high nibble min), `qs: [u8; 64]`, `d: f16`, `dmin: f16`.
///
/// Element `128h + 32j + 16k + l` is bits `2j..2j+2` of `qs[32h + 16k + l]`, with sub-block
/// scale byte `8h + 2j + k`.
pub(super) fn q2_k(b: &[u8; 84], y: &mut [f32; QK_K]) {
    let scales = &b[0..16];
    let qs = &b[16..80];
    let d = f16_at(b, 80);
    let dmin = f16_at(b, 82);
    for (i, y) in y.chunks_exact_mut(16).enumerate() {
        let (h, j, k) = (i / 8, (i / 2) % 4, i % 2);
        let sc = scales[i];
        let dl = d * f32::from(sc & 0x0F);
        let ml = dmin * f32::from(sc >> 4);
        let q = &qs[32 * h + 16 * k..][..16];
        for (y, &q) in y.iter_mut().zip(q) {
            *y = dl * f32::from((q >> (2 * j)) & 3) - ml;
        }
    }
}

/// `hmask: [u8; 32]`, `qs: [u8; 64]`, `scales: [u8; 12]` (16 packed 6-bit, offset by 32), `d: f16`.
///
/// Element `128h + 32j + 16k + l`: low bits `2j..2j+2` of `qs[32h + 16k + l]`, high bit
/// `4h + j` of `hmask[16k + l]`; the quant is `low - 4` when that bit is clear, `low` when set.
pub(super) fn q3_k(b: &[u8; 110], y: &mut [f32; QK_K]) {
    let hmask = &b[0..32];
    let qs = &b[32..96];
    let scales = q3_k_scales(&b[96..108]);
    let d = f16_at(b, 108);
    for (i, y) in y.chunks_exact_mut(16).enumerate() {
        let (h, j, k) = (i / 8, (i / 2) % 4, i % 2);
        let dl = d * f32::from(scales[i]);
        let q = &qs[32 * h + 16 * k..][..16];
        let hm = &hmask[16 * k..][..16];
        let bit = 1u8 << (4 * h + j);
        for ((y, &q), &hm) in y.iter_mut().zip(q).zip(hm) {
            let low = ((q >> (2 * j)) & 3) as i8;
            let quant = low - if hm & bit != 0 { 0 } else { 4 };
            *y = dl * f32::from(quant);
        }
    }
}

/// The 16 signed scales of a Q3_K block. Scale `i` has its low 4 bits in nibble `i / 8` of byte
/// `i % 8`, its high 2 bits at bits `2 * (i / 4)` of byte `8 + i % 4`, and is stored plus 32.
fn q3_k_scales(s: &[u8]) -> [i8; 16] {
    let mut out = [0i8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        let low = (s[i % 8] >> (4 * (i / 8))) & 0x0F;
        let high = (s[8 + i % 4] >> (2 * (i / 4))) & 0x03;
        // A 6-bit value minus 32 lies in -32..=31.
        *o = (low | (high << 4)) as i8 - 32;
    }
    out
}

/// The 6-bit scale and min of sub-block `j` (0..8) from the 12 packed bytes of Q4_K / Q5_K
/// (ggml's `get_scale_min_k4`). Sub-blocks 0..4 use the low 6 bits of bytes `j` and `j + 4`;
/// sub-blocks 4..8 take their low 4 bits from the nibbles of byte `j + 4` and their high 2 bits
/// from the top bits of bytes `j - 4` and `j`.
fn scale_min_k4(j: usize, s: &[u8]) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        let sc = (s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4);
        let m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
        (sc, m)
    }
}

/// `d: f16`, `dmin: f16`, `scales: [u8; 12]`, `qs: [u8; 128]`.
///
/// Element `64p + 32n + l` (sub-block `2p + n`) is nibble `n` of `qs[32p + l]`.
pub(super) fn q4_k(b: &[u8; 144], y: &mut [f32; QK_K]) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let scales = &b[4..16];
    let qs = &b[16..144];
    for (j, y) in y.chunks_exact_mut(32).enumerate() {
        let (sc, m) = scale_min_k4(j, scales);
        let d1 = d * f32::from(sc);
        let m1 = dmin * f32::from(m);
        let q = &qs[32 * (j / 2)..][..32];
        let shift = 4 * (j % 2);
        for (y, &q) in y.iter_mut().zip(q) {
            *y = d1 * f32::from((q >> shift) & 0x0F) - m1;
        }
    }
}

/// `d: f16`, `dmin: f16`, `scales: [u8; 12]`, `qh: [u8; 32]`, `qs: [u8; 128]`.
///
/// Element `32j + l` (sub-block `j`) is nibble `j % 2` of `qs[32(j / 2) + l]` plus 16 when bit
/// `j` of `qh[l]` is set.
pub(super) fn q5_k(b: &[u8; 176], y: &mut [f32; QK_K]) {
    let d = f16_at(b, 0);
    let dmin = f16_at(b, 2);
    let scales = &b[4..16];
    let qh = &b[16..48];
    let qs = &b[48..176];
    for (j, y) in y.chunks_exact_mut(32).enumerate() {
        let (sc, m) = scale_min_k4(j, scales);
        let d1 = d * f32::from(sc);
        let m1 = dmin * f32::from(m);
        let q = &qs[32 * (j / 2)..][..32];
        let shift = 4 * (j % 2);
        for ((y, &q), &h) in y.iter_mut().zip(q).zip(qh) {
            let high = if h & (1 << j) != 0 { 16 } else { 0 };
            *y = d1 * f32::from(((q >> shift) & 0x0F) + high) - m1;
        }
    }
}

/// `ql: [u8; 128]`, `qh: [u8; 64]`, `scales: [i8; 16]`, `d: f16`.
///
/// Element `128h + 32k + l` has its low 4 bits in nibble `k / 2` of `ql[64h + 32(k % 2) + l]`,
/// its high 2 bits at bits `2k` of `qh[32h + l]`, is stored plus 32, and uses scale
/// `8h + 2k + l / 16`.
pub(super) fn q6_k(b: &[u8; 210], y: &mut [f32; QK_K]) {
    let ql = &b[0..128];
    let qh = &b[128..192];
    let scales = &b[192..208];
    let d = f16_at(b, 208);
    for (i, y) in y.chunks_exact_mut(16).enumerate() {
        let (h, k, half) = (i / 8, (i / 2) % 4, i % 2);
        let dl = d * f32::from(scales[i] as i8);
        let lo = &ql[64 * h + 32 * (k % 2) + 16 * half..][..16];
        let hi = &qh[32 * h + 16 * half..][..16];
        for ((y, &lo), &hi) in y.iter_mut().zip(lo).zip(hi) {
            let q = ((lo >> (4 * (k / 2))) & 0x0F) | (((hi >> (2 * k)) & 3) << 4);
            *y = dl * f32::from(q as i8 - 32);
        }
    }
}
