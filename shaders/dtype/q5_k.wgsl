// Weight reader for Q5_K: 176-byte blocks of 256,
// `d: f16, dmin: f16, scales: [u8; 12], qh: [u8; 32], qs: [u8; 128]`. As Q4_K, plus a fifth bit:
// bit (2 jb + r / 32) of qh[r % 32] adds 16; x = (d * sc) * q - dmin * m. See f32.wgsl.
const QK: u32 = 256u;
const QB: u32 = 176u;

fn dq4(rb: u32, i: u32) -> vec4<f32> {
    let bb = rb + (i / 256u) * 176u;
    let j = i % 256u;
    let jb = j / 64u;
    let r = j % 64u;
    let l = r % 32u;
    let b4 = bb >> 2u;
    let sm = scale_min_k4(ld(b4 + 1u), ld(b4 + 2u), ld(b4 + 3u), 2u * jb + r / 32u);
    let d1 = f16_at(bb) * f32(sm.x);
    let m1 = f16_at(bb + 2u) * f32(sm.y);
    let w = ld((bb + 48u + 32u * jb + l) >> 2u) >> (4u * (r / 32u));
    let h = ld((bb + 16u + l) >> 2u) >> (2u * jb + r / 32u);
    let q = vec4<f32>((u8x4(w) & vec4<u32>(0xFu)) + 16u * (u8x4(h) & vec4<u32>(1u)));
    return exact(d1 * q) - vec4<f32>(m1);
}

fn dq1(rb: u32, i: u32) -> f32 {
    return lane4(dq4(rb, i & ~3u), i & 3u);
}

// Four elements from a word of low nibbles (at shift s) and a word of fifth bits (at shift hs).
fn q5x4(w: u32, h: u32, s: u32, hs: u32, d1: f32, m1: vec4<f32>) -> vec4<f32> {
    let q = vec4<f32>((u8x4(w >> s) & vec4<u32>(0xFu)) + 16u * (u8x4(h >> hs) & vec4<u32>(1u)));
    return exact(d1 * q) - m1;
}

// Sixteen elements i..i+16 (i % 16 == 0) for the mat-vec kernels: one sub-block, so one scale
// decode; all twelve words (d and dmin, the packed scales, four of nibbles, four of fifth bits)
// loaded before any is used (dq4's arithmetic, element for element). Blocks are 176 bytes.
fn dq16(rb: u32, i: u32) -> V16 {
    let bb = rb + (i / 256u) * 176u;
    let j = i % 256u;
    let jb = j / 64u;
    let r = j % 64u;
    let l = r % 32u;
    let b4 = bb >> 2u;
    let o = (bb + 48u + 32u * jb + l) >> 2u;
    let oh = (bb + 16u + l) >> 2u;
    let dm = ld(b4);
    let s0 = ld(b4 + 1u);
    let s1 = ld(b4 + 2u);
    let s2 = ld(b4 + 3u);
    let q = vec4<u32>(ld(o), ld(o + 1u), ld(o + 2u), ld(o + 3u));
    let h = vec4<u32>(ld(oh), ld(oh + 1u), ld(oh + 2u), ld(oh + 3u));
    let sm = scale_min_k4(s0, s1, s2, 2u * jb + r / 32u);
    let d1 = f16_bits(dm & 0xFFFFu) * f32(sm.x);
    let m1 = vec4<f32>(f16_bits(dm >> 16u) * f32(sm.y));
    let s = 4u * (r / 32u);
    let hs = 2u * jb + r / 32u;
    return V16(
        q5x4(q.x, h.x, s, hs, d1, m1),
        q5x4(q.y, h.y, s, hs, d1, m1),
        q5x4(q.z, h.z, s, hs, d1, m1),
        q5x4(q.w, h.w, s, hs, d1, m1),
    );
}
