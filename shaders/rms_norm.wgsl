// rms_norm / rms_norm_mul: out[r, i] = x[r, i] / sqrt(mean_i(x[r, i]²) + eps), times w[i % w_len]
// when MUL (from the prelude) is true. One workgroup per row.
//@include reduce

struct Params {
    rows: u32,
    n: u32,
    eps: f32,
    w_len: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let o = row * p.n;
    var ss = 0.0;
    for (var i = lane.index; i < p.n; i = i + WG) {
        ss = ss + x[o + i] * x[o + i];
    }
    let total = wg_sum(ss, lane);
    let scale = 1.0 / sqrt(total / f32(p.n) + p.eps);
    for (var i = lane.index; i < p.n; i = i + WG) {
        var v = x[o + i] * scale;
        if (MUL) {
            v = v * w[i % p.w_len];
        }
        out[o + i] = v;
    }
}
