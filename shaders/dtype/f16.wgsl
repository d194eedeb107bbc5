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

// Sixteen elements i..i+16 (i % 16 == 0) of a row, for the mat-vec kernels.
fn dq16(rb: u32, i: u32) -> V16 {
    return V16(dq4(rb, i), dq4(rb, i + 4u), dq4(rb, i + 8u), dq4(rb, i + 12u));
}
