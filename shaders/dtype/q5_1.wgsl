// Weight reader for Q5_1: 24-byte blocks of 32, `d: f16, m: f16, qh: u32, qs: [u8; 16]` (bits as
// Q5_0); x = q * d + m. See f32.wgsl.
const QK: u32 = 32u;
const QB: u32 = 24u;

fn dq4(rb: u32, i: u32) -> vec4<f32> {
    let bb = rb + (i / 32u) * 24u;
    let j = i % 32u;
    let qh = ld((bb + 4u) >> 2u) >> j;
    let w = ld((bb + 8u + j % 16u) >> 2u) >> select(0u, 4u, j >= 16u);
    let hi = (vec4<u32>(qh) >> vec4<u32>(0u, 1u, 2u, 3u)) & vec4<u32>(1u);
    let q = vec4<f32>((u8x4(w) & vec4<u32>(0xFu)) | (hi << vec4<u32>(4u)));
    return exact(q * f16_at(bb)) + vec4<f32>(f16_at(bb + 2u));
}

fn dq1(rb: u32, i: u32) -> f32 {
    return lane4(dq4(rb, i & ~3u), i & 3u);
}

// Sixteen elements i..i+16 (i % 16 == 0) of a quantized row, for the mat-vec kernels.
fn dq16(rb: u32, i: u32) -> V16 {
    return V16(dq4(rb, i), dq4(rb, i + 4u), dq4(rb, i + 8u), dq4(rb, i + 12u));
}
