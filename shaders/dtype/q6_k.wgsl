// Weight reader for Q6_K: 210-byte blocks of 256, `ql: [u8; 128], qh: [u8; 64], scales: [i8; 16], d: f16`.
// Element j: n = j / 128, r = j % 128, quarter c = r / 32, l = r % 32; low nibble (c < 2) or high
// nibble of ql[64 n + 32 (c % 2) + l], two high bits at bits 2 c of qh[32 n + l];
// x = (d * scales[8 n + 2 c + l / 16]) * (q - 32). See f32.wgsl.
const QK: u32 = 256u;
const QB: u32 = 210u;

fn dq4(rb: u32, i: u32) -> vec4<f32> {
    let bb = rb + (i / 256u) * 210u;
    let j = i % 256u;
    let n = j / 128u;
    let r = j % 128u;
    let c = r / 32u;
    let l = r % 32u;
    let lw = u32_at(bb + 64u * n + 32u * (c % 2u) + l) >> (4u * (c / 2u));
    let hw = u32_at(bb + 128u + 32u * n + l) >> (2u * c);
    let q = vec4<i32>((u8x4(lw) & vec4<u32>(0xFu)) | ((u8x4(hw) & vec4<u32>(3u)) << vec4<u32>(4u)));
    let sc = bitcast<i32>(byte_at(bb + 192u + 8u * n + 2u * c + l / 16u) << 24u) >> 24u;
    return (f16_at(bb + 208u) * f32(sc)) * vec4<f32>(q - vec4<i32>(32));
}

fn dq1(rb: u32, i: u32) -> f32 {
    return lane4(dq4(rb, i & ~3u), i & 3u);
}

// Sixteen elements i..i+16 (i % 16 == 0) for the mat-vec kernels: one scale, eight words of
// bits (blocks are 210 bytes, so often unaligned: five loads for four words), the scale's and
// d's words, all loaded before any is used.
fn dq16(rb: u32, i: u32) -> V16 {
    let bb = rb + (i / 256u) * 210u;
    let j = i % 256u;
    let n = j / 128u;
    let r = j % 128u;
    let c = r / 32u;
    let l = r % 32u;
    let lws = u32x4_at(bb + 64u * n + 32u * (c % 2u) + l);
    let hws = u32x4_at(bb + 128u + 32u * n + l);
    let sb = bb + 192u + 8u * n + 2u * c + l / 16u;
    let sw = ld(sb >> 2u);
    let dw = ld((bb + 208u) >> 2u);
    let sc = bitcast<i32>(((sw >> ((sb & 3u) * 8u)) & 0xFFu) << 24u) >> 24u;
    let d = f16_bits((dw >> (((bb + 208u) & 2u) * 8u)) & 0xFFFFu) * f32(sc);
    let ls = 4u * (c / 2u);
    let hs = 2u * c;
    var v: array<vec4<f32>, 4>;
    for (var q = 0u; q < 4u; q = q + 1u) {
        let lw = u8x4(lws[q] >> ls) & vec4<u32>(0xFu);
        let hw = u8x4(hws[q] >> hs) & vec4<u32>(3u);
        v[q] = d * (vec4<f32>(lw | (hw << vec4<u32>(4u))) - vec4<f32>(32.0));
    }
    return V16(v[0], v[1], v[2], v[3]);
}
