// Weight reader for Q4_K: 144-byte blocks of 256, `d: f16, dmin: f16, scales: [u8; 12], qs: [u8; 128]`.
// Eight sub-blocks of 32 with a 6-bit scale and min each (ggml's get_scale_min_k4); element j:
// jb = j / 64, r = j % 64; nibble r / 32 of qs[32 jb + r % 32]; sub-block 2 jb + r / 32;
// x = (d * sc) * q - dmin * m. See f32.wgsl.
const QK: u32 = 256u;
const QB: u32 = 144u;

fn dq4(rb: u32, i: u32) -> vec4<f32> {
    let bb = rb + (i / 256u) * 144u;
    let j = i % 256u;
    let jb = j / 64u;
    let r = j % 64u;
    let b4 = bb >> 2u;
    let sm = scale_min_k4(ld(b4 + 1u), ld(b4 + 2u), ld(b4 + 3u), 2u * jb + r / 32u);
    let d1 = f16_at(bb) * f32(sm.x);
    let m1 = f16_at(bb + 2u) * f32(sm.y);
    let w = ld((bb + 16u + 32u * jb + r % 32u) >> 2u) >> (4u * (r / 32u));
    let q = vec4<f32>(u8x4(w) & vec4<u32>(0xFu));
    return exact(d1 * q) - vec4<f32>(m1);
}

fn dq1(rb: u32, i: u32) -> f32 {
    return lane4(dq4(rb, i & ~3u), i & 3u);
}

// Sixteen elements i..i+16 (i % 16 == 0) for the mat-vec kernels: one scale decode, and all
// eight words (d and dmin, the packed scales, four of nibbles) loaded before any is used.
// Blocks are 144 bytes, so word-aligned.
fn dq16(rb: u32, i: u32) -> V16 {
    let bb = rb + (i / 256u) * 144u;
    let j = i % 256u;
    let jb = j / 64u;
    let r = j % 64u;
    let b4 = bb >> 2u;
    let o = (bb + 16u + 32u * jb + r % 32u) >> 2u;
    let dm = ld(b4);
    let s0 = ld(b4 + 1u);
    let s1 = ld(b4 + 2u);
    let s2 = ld(b4 + 3u);
    let q0 = ld(o);
    let q1 = ld(o + 1u);
    let q2 = ld(o + 2u);
    let q3 = ld(o + 3u);
    let sm = scale_min_k4(s0, s1, s2, 2u * jb + r / 32u);
    let d1 = f16_bits(dm & 0xFFFFu) * f32(sm.x);
    let m1 = vec4<f32>(f16_bits(dm >> 16u) * f32(sm.y));
    let s = 4u * (r / 32u);
    return V16(d1 * nib4(q0, s) - m1, d1 * nib4(q1, s) - m1, d1 * nib4(q2, s) - m1, d1 * nib4(q3, s) - m1);
}
