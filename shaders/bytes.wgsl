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

// Four bytes at any byte offset (quant blocks of 18, 22, 34, 110 and 210 bytes leave words unaligned).
fn u32_at(b: u32) -> u32 {
    let s = (b & 3u) * 8u;
    let lo = ld(b >> 2u);
    if (s == 0u) {
        return lo;
    }
    return (lo >> s) | (ld((b >> 2u) + 1u) << (32u - s));
}

// Four consecutive words at any byte offset: four aligned loads, five when unaligned.
fn u32x4_at(b: u32) -> vec4<u32> {
    let o = b >> 2u;
    let w = vec4<u32>(ld(o), ld(o + 1u), ld(o + 2u), ld(o + 3u));
    let s = (b & 3u) * 8u;
    if (s == 0u) {
        return w;
    }
    let next = vec4<u32>(w.y, w.z, w.w, ld(o + 4u));
    return (w >> vec4<u32>(s)) | (next << vec4<u32>(32u - s));
}

// IEEE half to float with integer operations only: exact for every input, subnormals included,
// whatever the device does with f16 denormals.
fn f16_bits(h: u32) -> f32 {
    let sign = (h & 0x8000u) << 16u;
    let e = (h >> 10u) & 0x1Fu;
    let m = h & 0x3FFu;
    if (e == 0u) {
        // zero or subnormal: m * 2^-24, exact in f32
        return bitcast<f32>(sign | bitcast<u32>(f32(m) * 5.9604644775390625e-8));
    }
    if (e == 31u) {
        return bitcast<f32>(sign | 0x7F800000u | (m << 13u));
    }
    return bitcast<f32>(sign | ((e + 112u) << 23u) | (m << 13u));
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
