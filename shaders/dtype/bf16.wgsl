// Weight reader for BF16: the upper half of an f32. See f32.wgsl.
const QK: u32 = 1u;
const QB: u32 = 2u;

fn dq1(rb: u32, i: u32) -> f32 {
    return bitcast<f32>(u16_at(rb + 2u * i) << 16u);
}

fn dq4(rb: u32, i: u32) -> vec4<f32> {
    let b = rb + 2u * i;
    let lo = u32_at(b);
    let hi = u32_at(b + 4u);
    return bitcast<vec4<f32>>(vec4<u32>(lo << 16u, lo & 0xFFFF0000u, hi << 16u, hi & 0xFFFF0000u));
}

// Sixteen elements i..i+16 (i % 16 == 0) of a row, for the mat-vec kernels.
fn dq16(rb: u32, i: u32) -> V16 {
    return V16(dq4(rb, i), dq4(rb, i + 4u), dq4(rb, i + 8u), dq4(rb, i + 12u));
}
