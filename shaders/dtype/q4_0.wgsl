// Weight reader for Q4_0: 18-byte blocks of 32, `d: f16, qs: [u8; 16]`; element j < 16 is the low
// nibble of qs[j], element j >= 16 the high nibble of qs[j - 16]; x = (q - 8) * d. See f32.wgsl.
const QK: u32 = 32u;
const QB: u32 = 18u;

fn dq4(rb: u32, i: u32) -> vec4<f32> {
    let bb = rb + (i / 32u) * 18u;
    let j = i % 32u;
    let w = u32_at(bb + 2u + j % 16u) >> select(0u, 4u, j >= 16u);
    let q = vec4<i32>(u8x4(w) & vec4<u32>(0xFu));
    return vec4<f32>(q - vec4<i32>(8)) * f16_at(bb);
}

fn dq1(rb: u32, i: u32) -> f32 {
    return lane4(dq4(rb, i & ~3u), i & 3u);
}

// Sixteen elements i..i+16 (i % 16 == 0) for the mat-vec kernels: one scale, four words.
fn dq16(rb: u32, i: u32) -> V16 {
    let bb = rb + (i / 32u) * 18u;
    let d = f16_at(bb);
    let s = select(0u, 4u, i % 32u >= 16u);
    let o = bb + 2u;
    let e = vec4<f32>(8.0);
    return V16((nib4(u32_at(o), s) - e) * d, (nib4(u32_at(o + 4u), s) - e) * d, (nib4(u32_at(o + 8u), s) - e) * d, (nib4(u32_at(o + 12u), s) - e) * d);
}
