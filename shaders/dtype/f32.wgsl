// Weight reader for F32. Interface shared by every file in shaders/dtype/:
//   const QK: u32            elements per block (1 for the plain types)
//   const QB: u32            bytes per block
//   fn dq4(rb: u32, i: u32) -> vec4<f32>   elements i..i+4 of the row starting at byte rb (i % 4 == 0)
//   fn dq1(rb: u32, i: u32) -> f32         element i of that row
//   fn dq16(rb: u32, i: u32) -> V16        elements i..i+16 (i % 16 == 0), one scale decode where
//                                          the format allows; mat-vec kernels use it on whole blocks
// Values equal ggml's dequantize_row_* bit for bit: same operations in the same order, and products
// that ggml rounds before adding pass through `exact()`, which a kernel may use to forbid fusing
// them into an fma.
const QK: u32 = 1u;
const QB: u32 = 4u;

fn dq1(rb: u32, i: u32) -> f32 {
    return bitcast<f32>(ld((rb >> 2u) + i));
}

fn dq4(rb: u32, i: u32) -> vec4<f32> {
    let o = (rb >> 2u) + i;
    return bitcast<vec4<f32>>(vec4<u32>(ld(o), ld(o + 1u), ld(o + 2u), ld(o + 3u)));
}

// Sixteen elements i..i+16 (i % 16 == 0) of a row, for the mat-vec kernels.
fn dq16(rb: u32, i: u32) -> V16 {
    return V16(dq4(rb, i), dq4(rb, i + 4u), dq4(rb, i + 8u), dq4(rb, i + 12u));
}
