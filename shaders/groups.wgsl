// Group selection shared by group_mask and moe_router. The kernel defines
// `fn score_at(i: u32, row: u32) -> f32`, the (biased) score of expert i of a row.
// select_groups leaves group_kept[g] = 1 for the `keep` groups with the best sums of their two
// largest scores (ties: lower group first), 0 for the others, and kept_group[r] = the group of
// rank r < keep. Uniform control flow; WG from the prelude.

const MAX_GROUPS: u32 = 256u;

var<workgroup> group_score: array<f32, MAX_GROUPS>;
var<workgroup> group_kept: array<u32, MAX_GROUPS>;
// the kept groups, best first
var<workgroup> kept_group: array<u32, MAX_GROUPS>;

fn select_groups(row: u32, e: u32, groups: u32, keep: u32, li: u32) {
    let gs = e / groups;
    for (var g = li; g < groups; g = g + WG) {
        let neg_inf = bitcast<f32>(0xFF800000u);
        var top1 = neg_inf;
        var top2 = neg_inf;
        for (var j = 0u; j < gs; j = j + 1u) {
            let v = score_at(g * gs + j, row);
            if (v > top1) {
                top2 = top1;
                top1 = v;
            } else if (v > top2) {
                top2 = v;
            }
        }
        if (gs == 1u) {
            group_score[g] = top1;
        } else {
            group_score[g] = top1 + top2;
        }
    }
    workgroupBarrier();
    for (var g = li; g < groups; g = g + WG) {
        var rank = 0u;
        for (var h = 0u; h < groups; h = h + 1u) {
            let sh = group_score[h];
            let sg = group_score[g];
            if (sh > sg || (sh == sg && h < g)) {
                rank = rank + 1u;
            }
        }
        group_kept[g] = select(0u, 1u, rank < keep);
        if (rank < keep) {
            kept_group[rank] = g;
        }
    }
    workgroupBarrier();
}
