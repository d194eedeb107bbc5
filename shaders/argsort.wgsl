// argsort of the last axis: out[r, rank(i)] = i, where rank(i) counts the elements that come
// before x[r, i] (DESCENDING: larger first; else smaller first; ties: lower index first).
// O(n²) comparisons spread over a workgroup per row: meant for rows of up to a few thousand.

struct Params {
    rows: u32,
    n: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<i32>;

fn before(va: f32, ia: u32, vb: f32, ib: u32) -> bool {
    if (DESCENDING) {
        return va > vb || (va == vb && ia < ib);
    }
    return va < vb || (va == vb && ia < ib);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let o = row * p.n;
    for (var i = li; i < p.n; i = i + WG) {
        let v = x[o + i];
        var rank = 0u;
        for (var j = 0u; j < p.n; j = j + 1u) {
            if (before(x[o + j], j, v, i)) {
                rank = rank + 1u;
            }
        }
        out[o + rank] = i32(i);
    }
}
