// Weight reader for Q3_K: 110-byte blocks of 256, `hmask: [u8; 32], qs: [u8; 64], scales: [u8; 12], d: f16`.
// Element j: n = j / 128, r = j % 128, l = r % 32; low two bits at bits 2 * (r / 32) of qs[32 n + l];
// bit (4 n + r / 32) of hmask[l] clear means subtract 4; 16 six-bit scales s (low nibbles in
// scales[0..8], two high bits each in scales[8..12]); x = (d * (s[8 n + r / 16] - 32)) * q. See f32.wgsl.
const QK: u32 = 256u;
const QB: u32 = 110u;

fn q3k_scale(sb: u32, s: u32) -> i32 {
    var lo: u32;
    if (s < 8u) {
        lo = byte_at(sb + s) & 0xFu;
    } else {
        lo = byte_at(sb + s - 8u) >> 4u;
    }
    let hi = (byte_at(sb + 8u + s % 4u) >> (2u * (s / 4u))) & 3u;
    return bitcast<i32>(lo | (hi << 4u)) - 32;
}

fn dq4(rb: u32, i: u32) -> vec4<f32> {
    let bb = rb + (i / 256u) * 110u;
    let j = i % 256u;
    let n = j / 128u;
    let r = j % 128u;
    let l = r % 32u;
    let dl = f16_at(bb + 108u) * f32(q3k_scale(bb + 96u, 8u * n + r / 16u));
    let qw = u32_at(bb + 32u + 32u * n + l) >> (2u * (r / 32u));
    let hw = u32_at(bb + l) >> (4u * n + r / 32u);
    let low = vec4<i32>(u8x4(qw) & vec4<u32>(3u));
    let high = vec4<i32>(u8x4(hw) & vec4<u32>(1u));
    return dl * vec4<f32>(low - (vec4<i32>(4) - 4 * high));
}

fn dq1(rb: u32, i: u32) -> f32 {
    return lane4(dq4(rb, i & ~3u), i & 3u);
}

// Sixteen elements i..i+16 (i % 16 == 0) of a quantized row, for the mat-vec kernels.
fn dq16(rb: u32, i: u32) -> V16 {
    return V16(dq4(rb, i), dq4(rb, i + 4u), dq4(rb, i + 8u), dq4(rb, i + 12u));
}
