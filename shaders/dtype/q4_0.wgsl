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
