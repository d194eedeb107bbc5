// soft_max over the last axis: out[r, i] = exp(x[r, i] - max_r) / Σ_j exp(x[r, j] - max_r).
// One workgroup per row.
//@include reduce

struct Params {
    rows: u32,
    n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let o = row * p.n;
    var m = x[o];
    for (var i = lane.index; i < p.n; i = i + WG) {
        m = max(m, x[o + i]);
    }
    let mx = wg_max(m, lane);
    var s = 0.0;
    for (var i = lane.index; i < p.n; i = i + WG) {
        let e = exp(x[o + i] - mx);
        out[o + i] = e;
        s = s + e;
    }
    let total = wg_sum(s, lane);
    for (var i = lane.index; i < p.n; i = i + WG) {
        out[o + i] = out[o + i] / total;
    }
}
