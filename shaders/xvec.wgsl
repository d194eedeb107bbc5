// Reads of the activation x of the mat-vec kernels, by element offset. The kernel defines
// `fn x_vec(i: u32) -> vec4<f32>`, vec4 i of x: x is read as vec4s (every buffer is a multiple of
// 16 bytes), one load for four aligned floats, which is what the quantized paths always ask for.

fn x1(o: u32) -> f32 {
    return x_vec(o >> 2u)[o & 3u];
}

fn x4(o: u32) -> vec4<f32> {
    if ((o & 3u) == 0u) {
        return x_vec(o >> 2u);
    }
    return vec4<f32>(x1(o), x1(o + 1u), x1(o + 2u), x1(o + 3u));
}

fn x16(o: u32) -> V16 {
    return V16(x4(o), x4(o + 4u), x4(o + 8u), x4(o + 12u));
}

// Sixteen weights (dq16) against sixteen values of x.
fn dot16(v: V16, u: V16) -> f32 {
    return dot(v.a, u.a) + dot(v.b, u.b) + dot(v.c, u.c) + dot(v.d, u.d);
}
