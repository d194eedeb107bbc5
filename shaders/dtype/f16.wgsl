// Weight reader for F16, decoded with integer operations (no shader-f16 needed). See f32.wgsl.
const QK: u32 = 1u;
const QB: u32 = 2u;

fn dq1(rb: u32, i: u32) -> f32 {
    return f16_at(rb + 2u * i);
}

fn dq4(rb: u32, i: u32) -> vec4<f32> {
    let b = rb + 2u * i;
    let lo = u32_at(b);
    let hi = u32_at(b + 4u);
    return vec4<f32>(f16_bits(lo & 0xFFFFu), f16_bits(lo >> 16u), f16_bits(hi & 0xFFFFu), f16_bits(hi >> 16u));
}
