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
@group(0) @binding(2) var<storage, read> h: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> ids: array<i32>;
@group(0) @binding(4) var<storage, read> weights: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

fn ld(i: u32) -> u32 {
    return w[i];
}

fn exact(v: vec4<f32>) -> vec4<f32> {
    return v;
}

// h is read as vec4s (every buffer is a multiple of 16 bytes): one load for four aligned
// floats, which is what the quantized paths always ask for.
fn x1(o: u32) -> f32 {
    return h[o >> 2u][o & 3u];
}

fn x4(o: u32) -> vec4<f32> {
    if ((o & 3u) == 0u) {
        return h[o >> 2u];
    }
    return vec4<f32>(x1(o), x1(o + 1u), x1(o + 2u), x1(o + 3u));
}

fn dot16(v: V16, o: u32) -> f32 {
    return dot(v.a, x4(o)) + dot(v.b, x4(o + 4u)) + dot(v.c, x4(o + 8u)) + dot(v.d, x4(o + 12u));
}

@compute @workgroup_size(WG)
fn main(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let wid = wg.x + wg.y * nwg.x;
    if (wid >= p.tokens * p.rows) {
        return;
    }
    let tok = wid / p.rows;
    let row = wid % p.rows;
    let k4 = select(p.k & ~3u, 0u, QK > 1u);
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
        if (QK > 1u) {
            for (var i = lane.index * 16u; i < p.k; i = i + WG * 16u) {
                part = part + dot16(dq16(rb, i), ho + i);
            }
        }
        for (var i = lane.index * 4u; i < k4; i = i + WG * 4u) {
            part = part + dot(dq4(rb, i), x4(ho + i));
        }
        for (var i = select(k4, p.k, QK > 1u) + lane.index; i < p.k; i = i + WG) {
            part = part + dq1(rb, i) * x1(ho + i);
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
