// f32 values as two f16 parts for the cooperative-matrix kernels (tile_coop.wgsl,
// attention_coop.wgsl): hi, the value with its f32 mantissa cut to f16's ten bits (so f16(hi) is
// exact and v - hi is exact in f32), and lo = f16((v - hi) * LO), so that v = hi + lo / LO to ~22
// bits. A product of two values is hi hi + (hi lo + lo hi) / LO, accumulated in f32 as two
// accumulators; the dropped lo lo is 2^-22 of it. f16 holds magnitudes up to 65504: weights,
// activations, keys, values and probabilities are far below it. (The cut is done on the bits: a
// driver may fold f32(f16(v)) into v, which would make every lo part zero.)

const LO: f32 = 2048.0;

fn hi4(v: vec4<f32>) -> vec4<f32> {
    return bitcast<vec4<f32>>(bitcast<vec4<u32>>(v) & vec4<u32>(0xFFFFE000u));
}

// The lo parts of four values whose hi parts are `h`.
fn lo4(v: vec4<f32>, h: vec4<f32>) -> vec4<f16> {
    return vec4<f16>((v - h) * LO);
}
