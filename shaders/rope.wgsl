// rope (NEOX, partial): for each token t, head h and dim i of x[t, h, :]: when i < n_rot, with
// half = n_rot / 2, j = i % half and θ = pos[t] * inv_freq[j] (inv_freq[j] = freq_scale *
// freq_base^(-2j / n_rot), computed on the host in f64), the pair (j, j + half) is rotated by θ;
// dims >= n_rot are copied. One invocation per element.
//@include angles

struct Params {
    n: u32,        // t * heads * d
    heads: u32,
    d: u32,
    n_rot: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> pos: array<i32>;
@group(0) @binding(3) var<storage, read> inv_freq: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let q = gid.x + gid.y * nwg.x * WG;
    if (q >= p.n) {
        return;
    }
    let i = q % p.d;
    if (i >= p.n_rot) {
        out[q] = x[q];
        return;
    }
    let t = q / (p.d * p.heads);
    let half = p.n_rot / 2u;
    let j = i % half;
    let row = q - i;
    let sc = sin_cos(f32(pos[t]) * inv_freq[j]);
    let x0 = x[row + j];
    let x1 = x[row + j + half];
    if (i < half) {
        out[q] = x0 * sc.y - x1 * sc.x;
    } else {
        out[q] = x0 * sc.x + x1 * sc.y;
    }
}
