// Byte-level reads from a weight viewed as little-endian u32 words, as GGUF stores it.
//
// Spliced into every kernel that reads weights. The kernel defines `fn ld(word: u32) -> u32`,
// which reads one word of the weight being decoded; addresses here are byte offsets.

fn byte_at(b: u32) -> u32 {
    return (ld(b >> 2u) >> ((b & 3u) * 8u)) & 0xFFu;
}

// A 16-bit value at an even byte offset.
fn u16_at(b: u32) -> u32 {
    return (ld(b >> 2u) >> ((b & 2u) * 8u)) & 0xFFFFu;
}

// Four bytes at any byte offset (quant blocks of 18, 22, 34, 110 and 210 bytes leave words
// unaligned). Both words are loaded unconditionally: a load behind a branch on the offset would be
// a second round trip to memory.
fn u32_at(b: u32) -> u32 {
    let s = (b & 3u) * 8u;
    let lo = ld(b >> 2u);
    let hi = ld((b >> 2u) + 1u);
    return select((lo >> s) | (hi << (32u - s)), lo, s == 0u);
}

// Four consecutive words at any byte offset: five loads, all issued before any use.
fn u32x4_at(b: u32) -> vec4<u32> {
    let o = b >> 2u;
    let w = vec4<u32>(ld(o), ld(o + 1u), ld(o + 2u), ld(o + 3u));
    let next = vec4<u32>(w.y, w.z, w.w, ld(o + 4u));
    let s = (b & 3u) * 8u;
    return select((w >> vec4<u32>(s)) | (next << vec4<u32>(32u - s)), w, s == 0u);
}

// IEEE half to float with integer operations only: exact for every input, subnormals included,
// whatever the device does with f16 denormals; no branches (a select of three candidates).
fn f16_bits(h: u32) -> f32 {
    let sign = (h & 0x8000u) << 16u;
    let em = h & 0x7FFFu;
    // normal: exponent rebased by 127 - 15 = 112; infinity and NaN: exponent 31 to 255
    let normal = select((em << 13u) + 0x38000000u, (em << 13u) + 0x70000000u, em >= 0x7C00u);
    // zero or subnormal: em is the mantissa, m * 2^-24, exact in f32
    let sub = bitcast<u32>(f32(em) * 5.9604644775390625e-8);
    return bitcast<f32>(sign | select(normal, sub, em < 0x400u));
}

fn f16_at(b: u32) -> f32 {
    return f16_bits(u16_at(b));
}

// The four bytes of a word, unsigned.
fn u8x4(w: u32) -> vec4<u32> {
    return vec4<u32>(w & 0xFFu, (w >> 8u) & 0xFFu, (w >> 16u) & 0xFFu, w >> 24u);
}

// The four bytes of a word as signed 8-bit integers.
fn i8x4(w: u32) -> vec4<i32> {
    return vec4<i32>(
        bitcast<i32>(w << 24u) >> 24u,
        bitcast<i32>(w << 16u) >> 24u,
        bitcast<i32>(w << 8u) >> 24u,
        bitcast<i32>(w) >> 24u,
    );
}

// Component i of v (WGSL indexes only references dynamically).
fn lane4(v: vec4<f32>, i: u32) -> f32 {
    var t = v;
    return t[i];
}

// Sixteen consecutive weights (dq16 of the weight readers).
struct V16 {
    a: vec4<f32>,
    b: vec4<f32>,
    c: vec4<f32>,
    d: vec4<f32>,
}

// The low (shift 0) or high (shift 4) nibbles of a word's four bytes.
fn nib4(w: u32, shift: u32) -> vec4<f32> {
    return vec4<f32>(u8x4(w >> shift) & vec4<u32>(0xFu));
}

// The 6-bit (scale, min) of sub-block s of a K-quant block (Q4_K, Q5_K: ggml's get_scale_min_k4)
// from the three words of its 12 packed scale bytes: sub-blocks 0-3 take bytes s and s + 4 whole,
// 4-7 take the nibbles of byte s + 4 and the top two bits of bytes s - 4 and s.
fn scale_min_k4(w0: u32, w1: u32, w2: u32, s: u32) -> vec2<u32> {
    let sh = 8u * (s & 3u);
    let b0 = (w0 >> sh) & 0xFFu;
    let b1 = (w1 >> sh) & 0xFFu;
    let b2 = (w2 >> sh) & 0xFFu;
    let low = vec2<u32>(b0 & 63u, b1 & 63u);
    let high = vec2<u32>((b2 & 0xFu) | ((b0 >> 6u) << 4u), (b2 >> 4u) | ((b1 >> 6u) << 4u));
    return select(high, low, s < 4u);
}
