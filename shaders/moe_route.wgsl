// moe_route (decode: one token): the router's logits and the expert choice in one launch.
// logits[r] = W[r] · x for the e rows of an f32 W, NR = 4 rows a workgroup as in mat_vec (with
// `norm`, x is an rms_norm_mul's input, folded in as there); the last workgroup to finish
// takes them all and chooses as moe_router does (route.wgsl). The logits go through `logits`
// with atomic operations after storage barriers, as attention's partials do (naga gives those
// barriers the memory semantics the handover needs); `counter` counts the finished workgroups
// and the last one puts it back to 0 for the next run. K % 4 == 0 (x and W read as vec4s).
//@include reduce
//@include xnorm
//@include first
//@include groups
//@include route

struct Params {
    k: u32,
    e: u32,
    groups: u32,
    keep: u32,
    topk: u32,
    norm_w: u32, // 1: the chosen weights are divided by their sum
    scale: f32,
    norm: u32,   // 1: x is rms-normed here
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> nw: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> bias: array<f32>;
@group(0) @binding(5) var<storage, read_write> logits: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read_write> counter: array<atomic<u32>>;
@group(0) @binding(7) var<storage, read_write> ids: array<i32>;
@group(0) @binding(8) var<storage, read_write> weights: array<f32>;

var<workgroup> arrived: u32;

const NR: u32 = 4u;

@compute @workgroup_size(WG)
fn main(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let wid = wg.x + wg.y * nwg.x;
    let groups_of_rows = (p.e + NR - 1u) / NR;
    if (wid >= groups_of_rows) {
        return;
    }
    let row0 = wid * NR;
    let k4 = p.k / 4u;
    let last = p.e - 1u;
    let rows = vec4<u32>(row0, min(row0 + 1u, last), min(row0 + 2u, last), min(row0 + 3u, last)) * k4;
    var acc = vec4<f32>(0.0);
    for (var i = lane.index; i < k4; i = i + WG) {
        let xv = x_vec(i);
        acc = acc + vec4<f32>(dot(w[rows.x + i], xv), dot(w[rows.y + i], xv), dot(w[rows.z + i], xv), dot(w[rows.w + i], xv));
    }
    let s = wg_sum4(acc, lane) * norm_scale(lane);
    if (lane.index < NR && row0 + lane.index < p.e) {
        atomicStore(&logits[row0 + lane.index], bitcast<u32>(s[lane.index]));
    }
    // release these logits, then count them; the last to arrive chooses
    storageBarrier();
    if (lane.index == 0u) {
        arrived = atomicAdd(&counter[0], 1u);
    }
    if (workgroupUniformLoad(&arrived) + 1u != groups_of_rows) {
        return;
    }
    storageBarrier();
    for (var i = lane.index; i < p.e; i = i + WG) {
        let sg = 1.0 / (1.0 + exp(-bitcast<f32>(atomicLoad(&logits[i]))));
        prob[i] = sg;
        set_biased(i, sg + bias[i]);
    }
    workgroupBarrier();
    route(0u, p.e, p.groups, p.keep, p.topk, p.norm_w == 1u, p.scale, lane.index);
    if (lane.index == 0u) {
        atomicStore(&counter[0], 0u);
    }
}
