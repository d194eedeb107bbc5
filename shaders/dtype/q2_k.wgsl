// Weight reader for Q2_K: 84-byte blocks of 256, `scales: [u8; 16], qs: [u8; 64], d: f16, dmin: f16`.
// Element j: half n = j / 128, r = j % 128; 2-bit q at bits 2 * (r / 32) of qs[32 n + r % 32];
// scale byte sc = scales[8 n + r / 16]; x = (d * (sc & 15)) * q - dmin * (sc >> 4). See f32.wgsl.
const QK: u32 = 256u;
const QB: u32 = 84u;

fn dq4(rb: u32, i: u32) -> vec4<f32> {
    let bb = rb + (i / 256u) * 84u;
    let j = i % 256u;
    let n = j / 128u;
    let r = j % 128u;
    let sc = byte_at(bb + 8u * n + r / 16u);
    let dl = f16_at(bb + 80u) * f32(sc & 0xFu);
    let ml = f16_at(bb + 82u) * f32(sc >> 4u);
    let w = u32_at(bb + 16u + 32u * n + r % 32u) >> (2u * (r / 32u));
    let q = vec4<f32>(u8x4(w) & vec4<u32>(3u));
    return exact(dl * q) - vec4<f32>(ml);
}

fn dq1(rb: u32, i: u32) -> f32 {
    return lane4(dq4(rb, i & ~3u), i & 3u);
}

// Sixteen elements i..i+16 (i % 16 == 0) of a quantized row, for the mat-vec kernels.
fn dq16(rb: u32, i: u32) -> V16 {
    return V16(dq4(rb, i), dq4(rb, i + 4u), dq4(rb, i + 8u), dq4(rb, i + 12u));
}
