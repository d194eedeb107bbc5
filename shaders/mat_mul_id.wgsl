// mat_mul_id: out[pair, r] = Σ_i W[e, r, i] x[pair / x_div, i] for the pairs that moe_sort.wgsl
// grouped by expert e (prefill's expert products: each expert's weight tile is dequantized once
// for up to TN of its pairs, instead of once per pair). As mat_mul.wgsl, with the rows of x
// gathered through `order`, one workgroup per tile of moe_sort's tile list. Dispatch: x =
// ceil(rows / TM), y = the most tiles the list can have (ceil(pairs / TN) + experts + 1); a launch
// computes the tiles of the experts of its weight chunk [e_lo, e_hi), and the first chunk's also
// writes zeros for the pairs whose id is outside [0, experts).
//@include bytes
//@include dtype
//@include tile
//@include tile_weights

struct Params {
    k: u32,
    rows: u32,
    row_bytes: u32,
    expert_bytes: u32,
    e_lo: u32,
    e_hi: u32,
    experts: u32,
    x_div: u32,      // slots when x has one row per token, 1 when it has one per pair
    first: u32,
    swiglu: u32,     // 1: out = silu(gate) * product (moe_gate_up's up product; gate shaped like out)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> order: array<u32>;
@group(0) @binding(4) var<storage, read> offsets: array<u32>;
@group(0) @binding(5) var<storage, read> gate: array<f32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

var<private> eb: u32;     // byte offset of this workgroup's expert in w
var<private> start: u32;  // its first pair in `order`
var<private> count: u32;  // its pairs

fn ld(i: u32) -> u32 {
    return w[i];
}

fn exact(v: vec4<f32>) -> vec4<f32> {
    return v;
}

// The byte offset of weight row r (r < p.rows), for the tile's w4 and w16.
fn row_at(r: u32) -> u32 {
    return eb + r * p.row_bytes;
}

// Four values of tile row tb of x from column c (zeros past the edges).
fn x4(tb: u32, c: u32) -> vec4<f32> {
    let b = tile0.y + tb;
    var v = vec4<f32>(0.0);
    if (b >= count) {
        return v;
    }
    let o = (order[start + b] / p.x_div) * p.k + c;
    if (c + 4u <= p.k) {
        return vec4<f32>(x[o], x[o + 1u], x[o + 2u], x[o + 3u]);
    }
    for (var e = 0u; c + e < p.k; e = e + 1u) {
        v[e] = x[o + e];
    }
    return v;
}

// The workgroup's expert and tile, tile wg.y of moe_sort's list; false past the list's end, for
// tiles of experts outside this chunk, and for the tiles of pairs without an expert (whose zeros
// it writes here, on the first chunk).
fn tile_begin(li: u32, wg: vec3<u32>) -> bool {
    if (wg.y >= offsets[p.experts + 2u]) {
        return false;
    }
    let t = p.experts + 3u + 2u * wg.y;
    let g = offsets[t];
    let r0 = wg.x * TM;
    let b0 = offsets[t + 1u];
    start = offsets[g];
    count = offsets[g + 1u] - start;
    if (g == p.experts) {
        // pairs with an id outside [0, experts): zeros, once
        if (p.first == 1u) {
            for (var i = li; i < TM * TN; i = i + 256u) {
                let r = r0 + i % TM;
                let b = b0 + i / TM;
                if (r < p.rows && b < count) {
                    out[order[start + b] * p.rows + r] = 0.0;
                }
            }
        }
        return false;
    }
    if (g < p.e_lo || g >= p.e_hi) {
        return false;
    }
    eb = (g - p.e_lo) * p.expert_bytes;
    tile0 = vec2<u32>(r0, b0);
    return true;
}

// The pairs of this tile that exist.
fn tile_rows() -> u32 {
    return min(TN, count - min(count, tile0.y));
}

// out[pair of b + j, r] = v[j] (with `swiglu`, silu(gate) v[j]) for the pairs that exist.
fn store(r: u32, b: u32, v: vec4<f32>) {
    if (r >= p.rows) {
        return;
    }
    for (var j = 0u; j < 4u; j = j + 1u) {
        if (b + j < count) {
            let o = order[start + b + j] * p.rows + r;
            if (p.swiglu == 1u) {
                let g = gate[o];
                out[o] = g / (1.0 + exp(-g)) * v[j];
            } else {
                out[o] = v[j];
            }
        }
    }
}
