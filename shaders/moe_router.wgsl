// moe_router: per token, s = sigmoid(logits), then the expert choice of `route` (route.wgsl) on
// s + bias. One workgroup per token; E <= MAX_E, k <= MAX_K.
//@include first
//@include groups
//@include route

struct Params {
    rows: u32,
    e: u32,
    groups: u32,
    keep: u32,
    k: u32,
    norm: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read_write> ids: array<i32>;
@group(0) @binding(4) var<storage, read_write> weights: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    for (var i = li; i < p.e; i = i + WG) {
        let s = 1.0 / (1.0 + exp(-logits[row * p.e + i]));
        prob[i] = s;
        set_biased(i, s + bias[i]);
    }
    workgroupBarrier();
    route(row, p.e, p.groups, p.keep, p.k, p.norm == 1u, p.scale, li);
}
