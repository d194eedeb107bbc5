// moe_sort: groups the (token, slot) pairs of an expert-indexed op by expert, for the tiled
// expert products (mat_mul_id.wgsl). offsets[e] .. offsets[e + 1] index the pairs of expert e
// in `order`; group E (offsets[E] .. offsets[E + 1]) holds the pairs whose id is outside
// [0, E). Within a group the order is arbitrary (each pair's result does not depend on it).
// Then the tiles of TN pairs that mat_mul_id's workgroups take, so that it launches as many as
// there are tiles (at most pairs / TN + E + 1) rather than a full grid of experts by the largest
// group's tiles: offsets[E + 2] = the number of tiles, and tile j is (group, first pair in the
// group) at offsets[E + 3 + 2 j], offsets[E + 4 + 2 j], groups in order.
// One workgroup; E <= MAX_E.

const MAX_E: u32 = 1024u;

struct Params {
    pairs: u32,
    experts: u32,
    tn: u32,         // pairs per tile of mat_mul_id
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> ids: array<i32>;
@group(0) @binding(2) var<storage, read_write> order: array<u32>;
@group(0) @binding(3) var<storage, read_write> offsets: array<u32>;

var<workgroup> counts: array<atomic<u32>, MAX_E + 1u>;
var<workgroup> base: array<u32, MAX_E + 2u>;
var<workgroup> tile_base: array<u32, MAX_E + 1u>;

fn group_of(pair: u32) -> u32 {
    let e = ids[pair];
    if (e < 0 || u32(e) >= p.experts) {
        return p.experts;
    }
    return u32(e);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) li: u32) {
    for (var g = li; g <= p.experts; g = g + WG) {
        atomicStore(&counts[g], 0u);
    }
    workgroupBarrier();
    for (var i = li; i < p.pairs; i = i + WG) {
        atomicAdd(&counts[group_of(i)], 1u);
    }
    workgroupBarrier();
    if (li == 0u) {
        var run = 0u;
        var tiles = 0u;
        for (var g = 0u; g <= p.experts; g = g + 1u) {
            let n = atomicLoad(&counts[g]);
            base[g] = run;
            offsets[g] = run;
            tile_base[g] = tiles;
            run = run + n;
            tiles = tiles + (n + p.tn - 1u) / p.tn;
            atomicStore(&counts[g], 0u);
        }
        base[p.experts + 1u] = run;
        offsets[p.experts + 1u] = run;
        offsets[p.experts + 2u] = tiles;
    }
    // (group sizes from workgroup memory: a workgroup barrier does not order `offsets`)
    workgroupBarrier();
    for (var g = li; g <= p.experts; g = g + WG) {
        let n = base[g + 1u] - base[g];
        for (var b = 0u; b < n; b = b + p.tn) {
            let j = p.experts + 3u + 2u * (tile_base[g] + b / p.tn);
            offsets[j] = g;
            offsets[j + 1u] = b;
        }
    }
    for (var i = li; i < p.pairs; i = i + WG) {
        let g = group_of(i);
        order[base[g] + atomicAdd(&counts[g], 1u)] = i;
    }
}
