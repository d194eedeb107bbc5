// Selection in top-k order (larger value first, ties: lower index first), for top_k and
// moe_router. wg_first must be called by every invocation of the workgroup (uniform control
// flow); needs `const WG: u32` (a power of two).

const NONE: u32 = 0xFFFFFFFFu;

// Whether (va, ia) comes before (vb, ib) in top-k order.
fn before(va: f32, ia: u32, vb: f32, ib: u32) -> bool {
    return va > vb || (va == vb && ia < ib);
}

var<workgroup> first_v: array<f32, WG>;
var<workgroup> first_i: array<u32, WG>;

// The first in top-k order of the candidates (v, i) the invocations offer (i = NONE offers
// nothing), as (bits of v, i); i is NONE when nobody offered one.
fn wg_first(v: f32, i: u32, li: u32) -> vec2<u32> {
    first_v[li] = v;
    first_i[li] = i;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (li < s) {
            let oi = first_i[li + s];
            if (oi != NONE && (first_i[li] == NONE || before(first_v[li + s], oi, first_v[li], first_i[li]))) {
                first_v[li] = first_v[li + s];
                first_i[li] = oi;
            }
        }
        workgroupBarrier();
    }
    let r = vec2<u32>(bitcast<u32>(first_v[0]), first_i[0]);
    workgroupBarrier();
    return r;
}

// The candidate an invocation offers from a strided scan: the first in top-k order among the
// values after (pv, pi) in that order (all of them when pi is NONE).
fn offer(best: vec2<u32>, v: f32, i: u32, pv: f32, pi: u32) -> vec2<u32> {
    if (pi != NONE && !before(pv, pi, v, i)) {
        return best;
    }
    if (best.y == NONE || before(v, i, bitcast<f32>(best.x), best.y)) {
        return vec2<u32>(bitcast<u32>(v), i);
    }
    return best;
}
