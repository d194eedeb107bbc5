// Weight reader for Q4_1: 20-byte blocks of 32, `d: f16, m: f16, qs: [u8; 16]` (nibbles as Q4_0);
// x = q * d + m. See f32.wgsl.
const QK: u32 = 32u;
const QB: u32 = 20u;

fn dq4(rb: u32, i: u32) -> vec4<f32> {
    let bb = rb + (i / 32u) * 20u;
    let j = i % 32u;
    let w = u32_at(bb + 4u + j % 16u) >> select(0u, 4u, j >= 16u);
    let q = vec4<f32>(u8x4(w) & vec4<u32>(0xFu));
    return exact(q * f16_at(bb)) + vec4<f32>(f16_at(bb + 2u));
}

fn dq1(rb: u32, i: u32) -> f32 {
    return lane4(dq4(rb, i & ~3u), i & 3u);
}

// Sixteen elements i..i+16 (i % 16 == 0) of a quantized row, for the mat-vec kernels.
fn dq16(rb: u32, i: u32) -> V16 {
    return V16(dq4(rb, i), dq4(rb, i + 4u), dq4(rb, i + 8u), dq4(rb, i + 12u));
}
