// Weight reader for F16 using the device's f16 type (shader-f16); the kernel starts with
// `enable f16;`. See f32.wgsl.
const QK: u32 = 1u;
const QB: u32 = 2u;

fn dq1(rb: u32, i: u32) -> f32 {
    let b = rb + 2u * i;
    let v = vec2<f32>(bitcast<vec2<f16>>(ld(b >> 2u)));
    return select(v.x, v.y, (b & 2u) != 0u);
}

fn dq4(rb: u32, i: u32) -> vec4<f32> {
    let b = rb + 2u * i;
    let lo = vec2<f32>(bitcast<vec2<f16>>(u32_at(b)));
    let hi = vec2<f32>(bitcast<vec2<f16>>(u32_at(b + 4u)));
    return vec4<f32>(lo, hi);
}
