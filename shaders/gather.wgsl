// gather: out[r, j] = x[r, idx[r, j]] (torch.gather on the last axis); 0 for an index outside [0, n).

struct Params {
    rows: u32,
    n: u32,
    k: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> idx: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let q = gid.x + gid.y * nwg.x * WG;
    if (q >= p.rows * p.k) {
        return;
    }
    let r = q / p.k;
    let i = idx[q];
    if (i < 0 || u32(i) >= p.n) {
        out[q] = 0.0;
    } else {
        out[q] = x[r * p.n + u32(i)];
    }
}
