//! Random tensor data of a chosen spread, written straight in each dtype's layout (ir/src/dtype.rs):
//! quantized blocks get random quants and f16 scales picked so the dequantized weights have about
//! the standard deviation asked for and mean zero. Nothing is quantized from floats, which is
//! what makes writing a 10 GB model fast.

use half::{bf16, f16};
use lingot_ir::DType;
use rand::rngs::SmallRng;
use rand::{Rng, RngCore};

/// How a tensor's values are drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// Mean 0, this standard deviation (normal for float types, the quant grid's spread otherwise).
    Normal(f32),
    /// Uniform in `[1 - spread, 1 + spread]`: norm weights.
    NearOne(f32),
    /// Uniform in `[-spread, spread]`: the expert bias.
    Uniform(f32),
}

/// Fills `out` (whole rows of `dtype`) with values drawn as `init` says.
pub fn fill(dtype: DType, init: Init, out: &mut [u8], rng: &mut SmallRng) {
    match dtype {
        DType::F32 => fill_floats(out, 4, init, rng, |x, b| b.copy_from_slice(&x.to_le_bytes())),
        DType::F16 => fill_floats(out, 2, init, rng, |x, b| {
            b.copy_from_slice(&f16::from_f32(x).to_le_bytes())
        }),
        DType::BF16 => fill_floats(out, 2, init, rng, |x, b| {
            b.copy_from_slice(&bf16::from_f32(x).to_le_bytes())
        }),
        DType::I32 => out.fill(0),
        // Only matrices are quantized, and they are `Normal`; another spread is taken as a
        // standard deviation.
        DType::Q8_0 | DType::Q4_0 | DType::Q4_1 | DType::Q5_0 | DType::Q5_1 => {
            fill_blocks(dtype, spread(init), out, rng)
        }
        DType::Q2K | DType::Q3K | DType::Q4K | DType::Q5K | DType::Q6K => fill_blocks(dtype, spread(init), out, rng),
    }
}

fn spread(init: Init) -> f32 {
    match init {
        Init::Normal(s) | Init::NearOne(s) | Init::Uniform(s) => s,
    }
}

fn fill_floats(out: &mut [u8], width: usize, init: Init, rng: &mut SmallRng, put: impl Fn(f32, &mut [u8])) {
    for b in out.chunks_exact_mut(width) {
        let x = match init {
            Init::Normal(sigma) => sigma * normal(rng),
            Init::NearOne(s) => 1.0 + rng.random_range(-s..=s),
            Init::Uniform(s) => rng.random_range(-s..=s),
        };
        put(x, b);
    }
}

/// A standard normal sample (Box-Muller, one of the pair).
fn normal(rng: &mut SmallRng) -> f32 {
    let u1: f32 = rng.random::<f32>().max(f32::MIN_POSITIVE);
    let u2: f32 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

/// Standard deviation of a quant uniform on `0..n` levels: `sqrt((n² - 1) / 12)`.
fn level_sd(levels: f32) -> f32 {
    ((levels * levels - 1.0) / 12.0).sqrt()
}

/// A scale around `sd_target / sd_of_quants`, jittered by ±25% so blocks differ as real ones do.
fn scale(rng: &mut SmallRng, sigma: f32, sd_of_quants: f32) -> f32 {
    sigma / sd_of_quants * rng.random_range(0.75f32..1.25)
}

/// [`scale`] with a random sign, for grids that are not symmetric about zero (Q4_0's -8..7):
/// ggml's scales take the sign of the block's largest value, so both signs occur.
fn signed_scale(rng: &mut SmallRng, sigma: f32, sd_of_quants: f32) -> f32 {
    let d = scale(rng, sigma, sd_of_quants);
    if rng.random() {
        d
    } else {
        -d
    }
}

fn put_f16(b: &mut [u8], x: f32) {
    b.copy_from_slice(&f16::from_f32(x).to_le_bytes());
}

fn fill_blocks(dtype: DType, sigma: f32, out: &mut [u8], rng: &mut SmallRng) {
    // Random bytes first: every quant field is then uniform over its levels; scales are set after.
    rng.fill_bytes(out);
    for b in out.chunks_exact_mut(dtype.block_bytes()) {
        match dtype {
            // x = d * q, q in -128..=127.
            DType::Q8_0 => put_f16(&mut b[0..2], signed_scale(rng, sigma, level_sd(256.0))),
            // x = d * (q - 8), q in 0..16.
            DType::Q4_0 => put_f16(&mut b[0..2], signed_scale(rng, sigma, level_sd(16.0))),
            // x = d * q + m, q in 0..16: m centres the block.
            DType::Q4_1 => {
                let d = scale(rng, sigma, level_sd(16.0));
                put_f16(&mut b[0..2], d);
                put_f16(&mut b[2..4], -7.5 * d);
            }
            // x = d * (q - 16), q in 0..32.
            DType::Q5_0 => put_f16(&mut b[0..2], signed_scale(rng, sigma, level_sd(32.0))),
            DType::Q5_1 => {
                let d = scale(rng, sigma, level_sd(32.0));
                put_f16(&mut b[0..2], d);
                put_f16(&mut b[2..4], -15.5 * d);
            }
            DType::Q4K => k_quant_4_5(b, rng, sigma, 16.0),
            DType::Q5K => k_quant_4_5(b, rng, sigma, 32.0),
            DType::Q6K => q6_k(b, rng, sigma),
            DType::Q2K => k_quant_2(b, rng, sigma),
            DType::Q3K => q3_k(b, rng, sigma),
            DType::F32 | DType::F16 | DType::BF16 | DType::I32 => {}
        }
    }
}

/// Q4_K / Q5_K: `x = d * sc * q - dmin * m` per 32-element sub-block, q in `0..levels`. With
/// `m = sc` and `dmin = d * (levels - 1) / 2` every sub-block is centred on zero.
fn k_quant_4_5(b: &mut [u8], rng: &mut SmallRng, sigma: f32, levels: f32) {
    let mut sc = [0u8; 8];
    for s in &mut sc {
        *s = rng.random_range(24..=40);
    }
    let d = scale(rng, sigma, 32.0 * level_sd(levels));
    put_f16(&mut b[0..2], d);
    put_f16(&mut b[2..4], d * (levels - 1.0) / 2.0);
    pack_scales_mins(&sc, &sc, &mut b[4..16]);
}

/// ggml's 12-byte packing of eight 6-bit scales and mins (`get_scale_min_k4` reads it back).
fn pack_scales_mins(sc: &[u8; 8], m: &[u8; 8], q: &mut [u8]) {
    for j in 0..4 {
        q[j] = (sc[j] & 63) | ((sc[j + 4] >> 4) << 6);
        q[j + 4] = (m[j] & 63) | ((m[j + 4] >> 4) << 6);
        q[j + 8] = (sc[j + 4] & 0xF) | ((m[j + 4] & 0xF) << 4);
    }
}

/// Q6_K: `x = d * sc * (q - 32)`, q in 0..64, sixteen i8 scales at bytes 192..208, d at 208.
fn q6_k(b: &mut [u8], rng: &mut SmallRng, sigma: f32) {
    for s in &mut b[192..208] {
        *s = rng.random_range(8..=16);
    }
    put_f16(&mut b[208..210], scale(rng, sigma, 12.0 * level_sd(64.0)));
}

/// Q2_K: `x = d * sc * q - dmin * m` per 16 elements, q in 0..4, 4-bit scale | 4-bit min at 0..16.
fn k_quant_2(b: &mut [u8], rng: &mut SmallRng, sigma: f32) {
    for s in &mut b[0..16] {
        let sc: u8 = rng.random_range(8..=15);
        *s = sc | (sc << 4);
    }
    let d = scale(rng, sigma, 11.5 * level_sd(4.0));
    put_f16(&mut b[80..82], d);
    put_f16(&mut b[82..84], d * 1.5);
}

/// Q3_K: `x = d * (sc - 32) * (q - 4 * !hbit)`, sixteen 6-bit scales packed in bytes 96..108.
fn q3_k(b: &mut [u8], rng: &mut SmallRng, sigma: f32) {
    // Every scale 32 + s: low 4 bits of s in the nibbles of bytes 96..104, high 2 bits in 104..108.
    let s: u8 = rng.random_range(8..=15);
    let low = s & 0xF;
    for q in &mut b[96..104] {
        *q = low | (low << 4);
    }
    let high = (s >> 4) | 2; // the 32 of `sc - 32` is bit 5, i.e. bit 1 of the 2-bit field
    for q in &mut b[104..108] {
        *q = high | (high << 2) | (high << 4) | (high << 6);
    }
    // The grid is -4..3: a random sign of d centres it.
    put_f16(&mut b[108..110], signed_scale(rng, sigma, f32::from(s) * level_sd(8.0)));
}
