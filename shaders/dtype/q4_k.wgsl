// Weight reader for Q4_K: 144-byte blocks of 256, `d: f16, dmin: f16, scales: [u8; 12], qs: [u8; 128]`.
// Eight sub-blocks of 32 with a 6-bit scale and min each (ggml's get_scale_min_k4); element j:
// jb = j / 64, r = j % 64; nibble r / 32 of qs[32 jb + r % 32]; sub-block 2 jb + r / 32;
// x = (d * sc) * q - dmin * m. See f32.wgsl.
const QK: u32 = 256u;
const QB: u32 = 144u;

// (scale, min) of sub-block s from the 12 packed bytes at sb.
fn scale_min_k4(sb: u32, s: u32) -> vec2<u32> {
    if (s < 4u) {
        return vec2<u32>(byte_at(sb + s) & 63u, byte_at(sb + s + 4u) & 63u);
    }
    let sc = (byte_at(sb + s + 4u) & 0xFu) | ((byte_at(sb + s - 4u) >> 6u) << 4u);
    let m = (byte_at(sb + s + 4u) >> 4u) | ((byte_at(sb + s) >> 6u) << 4u);
    return vec2<u32>(sc, m);
}

fn dq4(rb: u32, i: u32) -> vec4<f32> {
    let bb = rb + (i / 256u) * 144u;
    let j = i % 256u;
    let jb = j / 64u;
    let r = j % 64u;
    let sm = scale_min_k4(bb + 4u, 2u * jb + r / 32u);
    let d1 = f16_at(bb) * f32(sm.x);
    let m1 = f16_at(bb + 2u) * f32(sm.y);
    let w = ld((bb + 16u + 32u * jb + r % 32u) >> 2u) >> (4u * (r / 32u));
    let q = vec4<f32>(u8x4(w) & vec4<u32>(0xFu));
    return exact(d1 * q) - vec4<f32>(m1);
}

fn dq1(rb: u32, i: u32) -> f32 {
    return lane4(dq4(rb, i & ~3u), i & 3u);
}

// Sixteen elements i..i+16 (i % 16 == 0) for the mat-vec kernels: one scale decode, four words.
fn dq16(rb: u32, i: u32) -> V16 {
    let bb = rb + (i / 256u) * 144u;
    let j = i % 256u;
    let jb = j / 64u;
    let r = j % 64u;
    let sm = scale_min_k4(bb + 4u, 2u * jb + r / 32u);
    let d1 = f16_at(bb) * f32(sm.x);
    let m1 = vec4<f32>(f16_at(bb + 2u) * f32(sm.y));
    let o = (bb + 16u + 32u * jb + r % 32u) >> 2u;
    let s = 4u * (r / 32u);
    return V16(d1 * nib4(ld(o), s) - m1, d1 * nib4(ld(o + 1u), s) - m1, d1 * nib4(ld(o + 2u), s) - m1, d1 * nib4(ld(o + 3u), s) - m1);
}
