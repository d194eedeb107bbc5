// moe_down: out[t, r] = Σ_slot weights[t, slot] * (down_e[r] · h[t, slot]), e = ids[t, slot].
// One workgroup per (token, row), looping over the token's slots. Experts split over several
// buffers run once per chunk; every chunk after the first adds to what is there (`accumulate`).
// Further addends of the op (shared expert, residual) are added by add_into afterwards.
//@include bytes
//@include dtype
//@include reduce

struct Params {
    k: u32,
    rows: u32,
    tokens: u32,
    slots: u32,
    row_bytes: u32,
    expert_bytes: u32,
    e_lo: u32,
    e_hi: u32,
    accumulate: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> h: array<f32>;
@group(0) @binding(3) var<storage, read> ids: array<i32>;
@group(0) @binding(4) var<storage, read> weights: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

fn ld(i: u32) -> u32 {
    return w[i];
}

fn exact(v: vec4<f32>) -> vec4<f32> {
    return v;
}

@compute @workgroup_size(WG)
fn main(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let wid = wg.x + wg.y * nwg.x;
    if (wid >= p.tokens * p.rows) {
        return;
    }
    let tok = wid / p.rows;
    let row = wid % p.rows;
    let k4 = p.k & ~3u;
    var acc = 0.0;
    for (var s = 0u; s < p.slots; s = s + 1u) {
        let pair = tok * p.slots + s;
        let e = ids[pair];
        if (e < 0 || u32(e) < p.e_lo || u32(e) >= p.e_hi) {
            continue;
        }
        let rb = (u32(e) - p.e_lo) * p.expert_bytes + row * p.row_bytes;
        let ho = pair * p.k;
        var part = 0.0;
        for (var i = lane.index * 4u; i < k4; i = i + WG * 4u) {
            part = part + dot(dq4(rb, i), vec4<f32>(h[ho + i], h[ho + i + 1u], h[ho + i + 2u], h[ho + i + 3u]));
        }
        for (var i = k4 + lane.index; i < p.k; i = i + WG) {
            part = part + dq1(rb, i) * h[ho + i];
        }
        acc = acc + weights[pair] * part;
    }
    let total = wg_sum(acc, lane);
    if (lane.index == 0u) {
        let o = tok * p.rows + row;
        if (p.accumulate == 1u) {
            out[o] = out[o] + total;
        } else {
            out[o] = total;
        }
    }
}
