// f32 values as two f16 parts for the cooperative-matrix kernels (tile_coop.wgsl,
// attention_coop.wgsl): hi, the value with its f32 mantissa cut to f16's ten bits (so v - hi is
// exact in f32, and f16(hi) is exact for |v| >= 2^-14; below, within 2^-25), and
// lo = f16((v - hi) * LO), so that v = hi + lo / LO to ~21 bits. A product of two values is
// hi hi + (hi lo + lo hi) / LO, accumulated in f32 as two accumulators; the dropped lo lo is at most
// 2^-20 of it (the cut truncates). f16 holds magnitudes up to 65504: weights, activations, keys,
// values and probabilities reaching these kernels are far below it, but a larger one would become
// inf here where the f32 kernels keep it (LINGOT_WGPU_COOP=0). (The cut is done on the bits: a
// driver may fold f32(f16(v)) into v, which would make every lo part zero.)

const LO: f32 = 2048.0;

// The hi parts of four values, as f32s.
fn hi4(v: vec4<f32>) -> vec4<f32> {
    return bitcast<vec4<f32>>(bitcast<vec4<u32>>(v) & vec4<u32>(0xFFFFE000u));
}

struct Parts4 {
    hi: vec4<f16>,
    lo: vec4<f16>,
}

// Both parts of four values.
fn split4(v: vec4<f32>) -> Parts4 {
    let h = hi4(v);
    return Parts4(vec4<f16>(h), vec4<f16>((v - h) * LO));
}
