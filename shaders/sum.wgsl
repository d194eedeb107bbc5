// sum: out[o, i] = Σ_j x[o, j, i], the tensor viewed as [outer, n, inner] around the summed axis.

struct Params {
    outer: u32,
    n: u32,
    inner: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let q = gid.x + gid.y * nwg.x * WG;
    if (q >= p.outer * p.inner) {
        return;
    }
    let o = q / p.inner;
    let i = q % p.inner;
    var s = 0.0;
    for (var j = 0u; j < p.n; j = j + 1u) {
        s = s + x[(o * p.n + j) * p.inner + i];
    }
    out[q] = s;
}
