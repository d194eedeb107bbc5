// moe_down: out[t, r] = Σ_slot weights[t, slot] * (down_e[r] · h[t, slot]), e = ids[t, slot].
// One workgroup per (token, NR = 4 rows); its invocations walk the (slot, step) pairs of the
// token, so a short row (K = 512: 32 steps of 16) still keeps every invocation busy. Experts split over several
// buffers run once per chunk; every chunk after the first adds to what is there (`accumulate`).
// The op's first two further addends (shared expert, residual) are added here by the first chunk
// (`n_add` of them, in a0 and a1); any more by add_into afterwards.
// With `sh` (decode: a shared expert folded in), h holds one more slot per token after the
// `slots` routed ones, and the first chunk adds its product with w_sh (one expert's rows) at
// weight 1.
//@include bytes
//@include dtype
//@include xvec
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
    n_add: u32,
    sh: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> h: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> ids: array<i32>;
@group(0) @binding(4) var<storage, read> weights: array<f32>;
@group(0) @binding(5) var<storage, read> a0: array<f32>;
@group(0) @binding(6) var<storage, read> a1: array<f32>;
@group(0) @binding(7) var<storage, read> w_sh: array<u32>;
@group(0) @binding(8) var<storage, read_write> out: array<f32>;

var<private> shared_rows: bool;

fn ld(i: u32) -> u32 {
    if (shared_rows) {
        return w_sh[i];
    }
    return w[i];
}

fn exact(v: vec4<f32>) -> vec4<f32> {
    return v;
}

fn x_vec(i: u32) -> vec4<f32> {
    return h[i];
}

// Sixteen weights of four rows (byte offsets rb, from w_sh with `sh`) at element i against h
// from element xo.
fn step16(sh: bool, rb: vec4<u32>, i: u32, xo: u32) -> vec4<f32> {
    shared_rows = sh;
    let xv = x16(xo);
    return vec4<f32>(dot16(dq16(rb.x, i), xv), dot16(dq16(rb.y, i), xv), dot16(dq16(rb.z, i), xv), dot16(dq16(rb.w, i), xv));
}

const NR: u32 = 4u;

@compute @workgroup_size(WG)
fn main(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let wid = wg.x + wg.y * nwg.x;
    let groups = (p.rows + NR - 1u) / NR;
    if (wid >= p.tokens * groups) {
        return;
    }
    let tok = wid / groups;
    let row0 = (wid % groups) * NR;
    let last = p.rows - 1u;
    let rows = vec4<u32>(row0, min(row0 + 1u, last), min(row0 + 2u, last), min(row0 + 3u, last)) * p.row_bytes;
    var acc = vec4<f32>(0.0);
    // h's slots per token; the shared one (the last) only in the first chunk
    let hs = p.slots + p.sh;
    let slots = select(hs, p.slots, p.accumulate == 1u);
    if (QK > 1u) {
        // (slot, step) pairs: slot = j / steps, elements 16 * (j % steps) ..
        let steps = p.k / 16u;
        for (var j = lane.index; j < slots * steps; j = j + WG) {
            let s = j / steps;
            let i = (j % steps) * 16u;
            let xo = (tok * hs + s) * p.k + i;
            // two call sites with a constant `sh`: each inlined copy reads one binding
            if (s == p.slots) {
                acc = acc + step16(true, rows, i, xo);
                continue;
            }
            let pair = tok * p.slots + s;
            let e = ids[pair];
            if (e < 0 || u32(e) < p.e_lo || u32(e) >= p.e_hi) {
                continue;
            }
            let rb = rows + vec4<u32>((u32(e) - p.e_lo) * p.expert_bytes);
            acc = acc + weights[pair] * step16(false, rb, i, xo);
        }
    } else {
        let k4 = p.k & ~3u;
        for (var s = 0u; s < slots; s = s + 1u) {
            var rb = rows;
            var wt = 1.0;
            shared_rows = s == p.slots;
            if (!shared_rows) {
                let pair = tok * p.slots + s;
                let e = ids[pair];
                if (e < 0 || u32(e) < p.e_lo || u32(e) >= p.e_hi) {
                    continue;
                }
                rb = rb + vec4<u32>((u32(e) - p.e_lo) * p.expert_bytes);
                wt = weights[pair];
            }
            let ho = (tok * hs + s) * p.k;
            var part = vec4<f32>(0.0);
            for (var i = lane.index * 4u; i < k4; i = i + WG * 4u) {
                let xv = x4(ho + i);
                part = part + vec4<f32>(dot(dq4(rb.x, i), xv), dot(dq4(rb.y, i), xv), dot(dq4(rb.z, i), xv), dot(dq4(rb.w, i), xv));
            }
            for (var i = k4 + lane.index; i < p.k; i = i + WG) {
                part = part + vec4<f32>(dq1(rb.x, i), dq1(rb.y, i), dq1(rb.z, i), dq1(rb.w, i)) * x1(ho + i);
            }
            acc = acc + wt * part;
        }
    }
    let total = wg_sum4(acc, lane);
    if (lane.index < NR && row0 + lane.index < p.rows) {
        let o = tok * p.rows + row0 + lane.index;
        let v = lane4(total, lane.index);
        if (p.accumulate == 1u) {
            out[o] = out[o] + v;
        } else {
            var r = v;
            if (p.n_add > 0u) {
                r = r + a0[o];
            }
            if (p.n_add > 1u) {
                r = r + a1[o];
            }
            out[o] = r;
        }
    }
}
