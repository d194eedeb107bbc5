// Expert choice shared by moe_router and moe_route. The kernel fills prob[i] (sigmoid scores)
// and the biased scores (prob + bias, through set_biased) of its e experts, then every
// invocation calls route: experts are chosen on the biased scores, restricted to the `keep` best
// groups (as group_mask), top k of those (as top_k: larger first, ties to the lower index); the
// weights are the unbiased prob of the chosen, divided by their sum (+1e-20) when `norm`, times
// `scale`; written to row `row` of the kernel's `ids` and `weights`. Each expert finds its own
// rank (how many come before it), so the selection costs one barrier, not k rounds of
// reductions. Needs `first` and `groups`.

const MAX_E: u32 = 1024u;
const MAX_K: u32 = 256u;

var<workgroup> prob: array<f32, MAX_E>;
// the biased scores, four to an element (the rank count reads four at a time)
var<workgroup> biased4: array<vec4<f32>, MAX_E / 4u>;
// the chosen experts in top-k order
var<workgroup> chosen: array<u32, MAX_K>;

fn biased(i: u32) -> f32 {
    return biased4[i >> 2u][i & 3u];
}

fn set_biased(i: u32, v: f32) {
    biased4[i >> 2u][i & 3u] = v;
}

fn score_at(i: u32, row: u32) -> f32 {
    return biased(i);
}

// How many of experts j0 .. j0 + n come before (v, i) in top-k order.
fn count_before(j0: u32, n: u32, v: f32, i: u32) -> u32 {
    var c = 0u;
    var j = j0;
    if ((j0 & 3u) == 0u) {
        let vv = vec4<f32>(v);
        let one = vec4<u32>(1u);
        for (; j + 4u <= j0 + n; j = j + 4u) {
            let b = biased4[j >> 2u];
            let js = vec4<u32>(j, j + 1u, j + 2u, j + 3u);
            c = c + dot(select(vec4<u32>(0u), one, (b > vv) | ((b == vv) & (js < vec4<u32>(i)))), one);
        }
    }
    for (; j < j0 + n; j = j + 1u) {
        c = c + select(0u, 1u, before(biased(j), j, v, i));
    }
    return c;
}

fn route(row: u32, e: u32, groups: u32, keep: u32, k: u32, norm: bool, scale: f32, li: u32) {
    select_groups(row, e, groups, keep, li);
    let gs = e / groups;
    for (var i = li; i < e; i = i + WG) {
        if (group_kept[i / gs] == 0u) {
            set_biased(i, bitcast<f32>(0xFF800000u));
        }
    }
    workgroupBarrier();
    // expert i's place in top-k order among all (masked ones are -inf, so they come last): the
    // experts before it; one pass over the scores in workgroup memory per expert, no rounds. An
    // expert of a kept group only has kept experts before it, so it counts over the kept groups
    // alone (listed in kept_group, best first); a masked one is chosen only when the kept groups
    // hold fewer than k experts. When they hold at least k, the candidates are the kept groups'
    // experts alone, dealt out one per invocation: c -> expert j of kept group c / gs.
    let nk = min(keep, groups);
    let kept = nk * gs;
    if (kept >= k) {
        for (var c = li; c < kept; c = c + WG) {
            let i = kept_group[c / gs] * gs + c % gs;
            let v = biased(i);
            var rank = 0u;
            for (var q = 0u; q < nk; q = q + 1u) {
                rank = rank + count_before(kept_group[q] * gs, gs, v, i);
            }
            if (rank < k) {
                chosen[rank] = i;
            }
        }
    } else {
        for (var i = li; i < e; i = i + WG) {
            let v = biased(i);
            let rank = count_before(0u, e, v, i);
            if (rank < k) {
                chosen[rank] = i;
            }
        }
    }
    workgroupBarrier();
    for (var r = li; r < k; r = r + WG) {
        ids[row * k + r] = bitcast<i32>(chosen[r]);
    }
    if (li == 0u) {
        var sum = 0.0;
        for (var r = 0u; r < k; r = r + 1u) {
            sum = sum + prob[chosen[r]];
        }
        for (var r = 0u; r < k; r = r + 1u) {
            var wt = prob[chosen[r]];
            if (norm) {
                wt = wt / (sum + 1e-20);
            }
            weights[row * k + r] = wt * scale;
        }
    }
}
