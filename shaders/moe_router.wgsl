// moe_router: per token, s = sigmoid(logits); experts are chosen on s + bias, restricted to the
// `keep` best groups (as group_mask), top k of those (as top_k: larger first, ties to the lower
// index); the weights are the unbiased s of the chosen, divided by their sum (+1e-20) when
// `norm`, times `scale`. One workgroup per token; E <= MAX_E, k <= MAX_K. Each expert finds its
// own rank (how many come before it), so the selection costs one barrier, not k rounds of
// reductions.
//@include first
//@include groups

const MAX_E: u32 = 1024u;
const MAX_K: u32 = 256u;

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

var<workgroup> prob: array<f32, MAX_E>;
var<workgroup> biased: array<f32, MAX_E>;
// the chosen experts in top-k order
var<workgroup> chosen: array<u32, MAX_K>;

fn score_at(i: u32, row: u32) -> f32 {
    return biased[i];
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    for (var i = li; i < p.e; i = i + WG) {
        let s = 1.0 / (1.0 + exp(-logits[row * p.e + i]));
        prob[i] = s;
        biased[i] = s + bias[i];
    }
    workgroupBarrier();
    select_groups(row, p.e, p.groups, p.keep, li);
    let gs = p.e / p.groups;
    for (var i = li; i < p.e; i = i + WG) {
        if (group_kept[i / gs] == 0u) {
            biased[i] = bitcast<f32>(0xFF800000u);
        }
    }
    workgroupBarrier();
    // expert i's place in top-k order among all (masked ones are -inf, so they come last): the
    // experts before it; one pass over the scores in workgroup memory per expert, no rounds. An
    // expert of a kept group only has kept experts before it, so it counts over the kept groups
    // alone; a masked one is chosen only when the kept groups hold fewer than k experts.
    let kept = min(p.keep, p.groups) * gs;
    for (var i = li; i < p.e; i = i + WG) {
        let v = biased[i];
        let masked = group_kept[i / gs] == 0u;
        if (masked && kept >= p.k) {
            continue;
        }
        var rank = 0u;
        for (var g = 0u; g < p.groups; g = g + 1u) {
            if (masked || group_kept[g] == 1u) {
                for (var j = g * gs; j < g * gs + gs; j = j + 1u) {
                    rank = rank + select(0u, 1u, before(biased[j], j, v, i));
                }
            }
        }
        if (rank < p.k) {
            chosen[rank] = i;
        }
    }
    workgroupBarrier();
    for (var r = li; r < p.k; r = r + WG) {
        ids[row * p.k + r] = bitcast<i32>(chosen[r]);
    }
    if (li == 0u) {
        var sum = 0.0;
        for (var r = 0u; r < p.k; r = r + 1u) {
            sum = sum + prob[chosen[r]];
        }
        for (var r = 0u; r < p.k; r = r + 1u) {
            var wt = prob[chosen[r]];
            if (p.norm == 1u) {
                wt = wt / (sum + 1e-20);
            }
            weights[row * p.k + r] = wt * p.scale;
        }
    }
}
