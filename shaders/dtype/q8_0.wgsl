// Weight reader for Q8_0: 34-byte blocks of 32, `d: f16, qs: [i8; 32]`, x = qs * d. See f32.wgsl.
const QK: u32 = 32u;
const QB: u32 = 34u;

fn dq4(rb: u32, i: u32) -> vec4<f32> {
    let bb = rb + (i / 32u) * 34u;
    let q = i8x4(u32_at(bb + 2u + i % 32u));
    return vec4<f32>(q) * f16_at(bb);
}

fn dq1(rb: u32, i: u32) -> f32 {
    return lane4(dq4(rb, i & ~3u), i & 3u);
}

// Sixteen elements i..i+16 (i % 16 == 0) for the mat-vec kernels: one scale, four words.
fn dq16(rb: u32, i: u32) -> V16 {
    let bb = rb + (i / 32u) * 34u;
    let d = f16_at(bb);
    let o = bb + 2u + i % 32u;
    return V16(vec4<f32>(i8x4(u32_at(o))) * d, vec4<f32>(i8x4(u32_at(o + 4u))) * d, vec4<f32>(i8x4(u32_at(o + 8u))) * d, vec4<f32>(i8x4(u32_at(o + 12u))) * d);
}
