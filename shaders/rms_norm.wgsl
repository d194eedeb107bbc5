// rms_norm / rms_norm_mul: out[r, i] = x[r, i] / sqrt(mean_i(x[r, i]²) + eps), times w[i % w_len]
// when MUL (from the prelude) is true. One workgroup per row; rows whose length is a multiple
// of four are read as vec4s (a 2048-wide row is two loads per invocation, not a chain of 32).
//@include reduce

struct Params {
    rows: u32,
    n: u32,
    eps: f32,
    w_len: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn x1(o: u32) -> f32 {
    return x[o >> 2u][o & 3u];
}

fn wt(i: u32) -> f32 {
    if (MUL) {
        return w[i % p.w_len];
    }
    return 1.0;
}

@compute @workgroup_size(WG)
fn main(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let o = row * p.n;
    let vec = (p.n & 3u) == 0u;
    var ss = 0.0;
    if (vec) {
        for (var i = lane.index * 4u; i < p.n; i = i + WG * 4u) {
            let v = x[(o + i) >> 2u];
            ss = ss + dot(v, v);
        }
    } else {
        for (var i = lane.index; i < p.n; i = i + WG) {
            ss = ss + x1(o + i) * x1(o + i);
        }
    }
    let total = wg_sum(ss, lane);
    let scale = 1.0 / sqrt(total / f32(p.n) + p.eps);
    if (vec) {
        for (var i = lane.index * 4u; i < p.n; i = i + WG * 4u) {
            let v = x[(o + i) >> 2u] * scale;
            out[o + i] = v.x * wt(i);
            out[o + i + 1u] = v.y * wt(i + 1u);
            out[o + i + 2u] = v.z * wt(i + 2u);
            out[o + i + 3u] = v.w * wt(i + 3u);
        }
    } else {
        for (var i = lane.index; i < p.n; i = i + WG) {
            out[o + i] = x1(o + i) * scale * wt(i);
        }
    }
}
