// mat_vec_id (mul_mat_id): out[pair, r] = Σ_i W[ids[pair], r, i] x[xrow, i] for each (token,
// slot) pair, pair = token * slots + slot, xrow = token when x has one row per token, else pair.
// The expert id is read here, on the GPU. One workgroup per (pair, row). Experts split over
// several buffers run once per chunk of experts [e_lo, e_hi); other pairs are left alone, and the
// first chunk writes zeros for ids outside [0, experts).
//@include bytes
//@include dtype
//@include xvec
//@include reduce

struct Params {
    k: u32,
    rows: u32,         // rows per expert (N)
    pairs: u32,        // tokens * slots
    slots: u32,
    x_per_pair: u32,   // 1: x has a row per pair; 0: one row per token
    row_bytes: u32,
    expert_bytes: u32,
    e_lo: u32,
    e_hi: u32,
    experts: u32,
    first: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> ids: array<i32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> expert: i32;

fn ld(i: u32) -> u32 {
    return w[i];
}

fn exact(v: vec4<f32>) -> vec4<f32> {
    return v;
}

fn x_vec(i: u32) -> vec4<f32> {
    return x[i];
}

@compute @workgroup_size(WG)
fn main(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let wid = wg.x + wg.y * nwg.x;
    if (wid >= p.pairs * p.rows) {
        return;
    }
    let pair = wid / p.rows;
    let row = wid % p.rows;
    if (lane.index == 0u) {
        expert = ids[pair];
    }
    let e = workgroupUniformLoad(&expert);
    if (e < 0 || u32(e) >= p.experts) {
        if (p.first == 1u && lane.index == 0u) {
            out[pair * p.rows + row] = 0.0;
        }
        return;
    }
    if (u32(e) < p.e_lo || u32(e) >= p.e_hi) {
        return;
    }
    let rb = (u32(e) - p.e_lo) * p.expert_bytes + row * p.row_bytes;
    let xo = select(pair / p.slots, pair, p.x_per_pair == 1u) * p.k;
    var acc = 0.0;
    if (QK > 1u) {
        for (var i = lane.index * 16u; i < p.k; i = i + WG * 16u) {
            acc = acc + dot16(dq16(rb, i), x16(xo + i));
        }
    }
    let k4 = select(p.k & ~3u, 0u, QK > 1u);
    for (var i = lane.index * 4u; i < k4; i = i + WG * 4u) {
        acc = acc + dot(dq4(rb, i), x4(xo + i));
    }
    for (var i = select(k4, p.k, QK > 1u) + lane.index; i < p.k; i = i + WG) {
        acc = acc + dq1(rb, i) * x1(xo + i);
    }
    let s = wg_sum(acc, lane);
    if (lane.index == 0u) {
        out[pair * p.rows + row] = s;
    }
}
