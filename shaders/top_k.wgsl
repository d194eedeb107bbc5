// top_k: out[r, :] = indices of the k largest x[r, :], largest first, ties by lower index.
// One workgroup per row; k rounds, each picking the first value after the previous pick.
//@include first

struct Params {
    rows: u32,
    n: u32,
    k: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<i32>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let o = row * p.n;
    var pv = 0.0;
    var pi = NONE;
    for (var r = 0u; r < p.k; r = r + 1u) {
        var best = vec2<u32>(0u, NONE);
        for (var i = li; i < p.n; i = i + WG) {
            best = offer(best, x[o + i], i, pv, pi);
        }
        let f = wg_first(bitcast<f32>(best.x), best.y, li);
        pv = bitcast<f32>(f.x);
        pi = f.y;
        if (li == 0u) {
            out[row * p.k + r] = bitcast<i32>(pi);
        }
    }
}
