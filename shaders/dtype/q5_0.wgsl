// Weight reader for Q5_0: 22-byte blocks of 32, `d: f16, qh: u32, qs: [u8; 16]`; the low four bits
// as Q4_0, bit j of qh is the fifth bit of element j; x = (q - 16) * d. See f32.wgsl.
const QK: u32 = 32u;
const QB: u32 = 22u;

fn dq4(rb: u32, i: u32) -> vec4<f32> {
    let bb = rb + (i / 32u) * 22u;
    let j = i % 32u;
    let qh = u32_at(bb + 2u) >> j;
    let w = u32_at(bb + 6u + j % 16u) >> select(0u, 4u, j >= 16u);
    let hi = (vec4<u32>(qh) >> vec4<u32>(0u, 1u, 2u, 3u)) & vec4<u32>(1u);
    let q = vec4<i32>((u8x4(w) & vec4<u32>(0xFu)) | (hi << vec4<u32>(4u)));
    return vec4<f32>(q - vec4<i32>(16)) * f16_at(bb);
}

fn dq1(rb: u32, i: u32) -> f32 {
    return lane4(dq4(rb, i & ~3u), i & 3u);
}

// Sixteen elements i..i+16 (i % 16 == 0) of a quantized row, for the mat-vec kernels.
fn dq16(rb: u32, i: u32) -> V16 {
    return V16(dq4(rb, i), dq4(rb, i + 4u), dq4(rb, i + 8u), dq4(rb, i + 12u));
}
