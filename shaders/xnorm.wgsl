// The mat-vec kernels' reads of x with a folded rms_norm_mul, for kernels whose parameters
// have `norm`, `eps` and `k` and whose bindings `x` and `nw` are vec4 arrays. With `norm`
// (decode: the rms_norm_mul that makes x, folded in), x is the norm's input: x_vec adds each
// loaded value's squares to `ss` and returns it times the norm weight `nw`, and norm_scale gives
// 1 / sqrt(mean(x²) + eps) for the sums at the end. Each element of x must be loaded once per
// workgroup (so `ss` sums the whole row across it). Needs `reduce`.

var<private> ss: f32;

fn x_vec(i: u32) -> vec4<f32> {
    let v = x[i];
    if (p.norm == 1u) {
        ss = ss + dot(v, v);
        return v * nw[i];
    }
    return v;
}

// 1 / sqrt(mean(x²) + eps) under `norm`, else 1 (every invocation calls it: a reduction).
fn norm_scale(lane: Lane) -> f32 {
    if (p.norm == 1u) {
        return 1.0 / sqrt(wg_sum(ss, lane) / f32(p.k) + p.eps);
    }
    return 1.0;
}
