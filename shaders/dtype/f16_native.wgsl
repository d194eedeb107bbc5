// Weight reader for F16 with the hardware half->float conversion (unpack2x16float), used on
// devices with shader-f16. (The f16 type itself cannot be used here: naga 30 mistypes
// `bitcast<vec2<f16>>(u32)` as a scalar.) Devices without shader-f16 decode with integer
// operations (f16.wgsl), exact whatever the hardware does with f16 denormals. See f32.wgsl.
const QK: u32 = 1u;
const QB: u32 = 2u;

fn dq1(rb: u32, i: u32) -> f32 {
    let b = rb + 2u * i;
    let v = unpack2x16float(ld(b >> 2u));
    return select(v.x, v.y, (b & 2u) != 0u);
}

fn dq4(rb: u32, i: u32) -> vec4<f32> {
    let b = rb + 2u * i;
    return vec4<f32>(unpack2x16float(u32_at(b)), unpack2x16float(u32_at(b + 4u)));
}

// Sixteen elements i..i+16 (i % 16 == 0) of a row, for the mat-vec kernels.
fn dq16(rb: u32, i: u32) -> V16 {
    return V16(dq4(rb, i), dq4(rb, i + 4u), dq4(rb, i + 8u), dq4(rb, i + 12u));
}
