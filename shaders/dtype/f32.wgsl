// Weight reader for F32. Interface shared by every file in shaders/dtype/:
//   const QK: u32            elements per block (1 for the plain types)
//   const QB: u32            bytes per block
//   fn dq4(rb: u32, i: u32) -> vec4<f32>   elements i..i+4 of the row starting at byte rb (i % 4 == 0)
//   fn dq1(rb: u32, i: u32) -> f32         element i of that row
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
