// moe_combine: out[t, r] = Σ_slot weights[t, slot] * y[t * slots + slot, r] over the slots whose
// id is in [0, experts) (y: the per-pair expert products of mat_mul_id.wgsl). The second half of
// moe_down on the grouped (prefill) path, plus the op's first `n_add` (up to two) further
// addends a0, a1. One invocation per output element.

struct Params {
    tokens: u32,
    rows: u32,
    slots: u32,
    experts: u32,
    n_add: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<i32>;
@group(0) @binding(3) var<storage, read> weights: array<f32>;
@group(0) @binding(4) var<storage, read> a0: array<f32>;
@group(0) @binding(5) var<storage, read> a1: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i >= p.tokens * p.rows) {
        return;
    }
    let t = i / p.rows;
    let r = i % p.rows;
    var acc = 0.0;
    for (var s = 0u; s < p.slots; s = s + 1u) {
        let pair = t * p.slots + s;
        let e = ids[pair];
        if (e >= 0 && u32(e) < p.experts) {
            acc = acc + weights[pair] * y[pair * p.rows + r];
        }
    }
    if (p.n_add > 0u) {
        acc = acc + a0[i];
    }
    if (p.n_add > 1u) {
        acc = acc + a1[i];
    }
    out[i] = acc;
}
