// moe_gate_up: out[pair, r] = silu(gate_e[r] · x[token]) * (up_e[r] · x[token]), e = ids[pair],
// pair = token * slots + slot. Two weights in one pass over x: `ld` reads the one `which` names.
// One workgroup per (pair, NR = 4 rows): each x load serves four rows of both weights.
// Chunks of experts as in mat_vec_id (gate and up are split identically).
// With `sh` (decode: a shared expert folded in), each token has one more slot after its
// `slots` routed ones, computed by the first chunk from sh_gate and sh_up (one expert's rows);
// `out` then holds slots + 1 rows of `rows` per token.
// With `norm` (decode: the rms_norm_mul that makes x, folded in), x is the norm's input: every
// x load goes through x_vec, which adds the value's squares to `ss` and returns it times the norm
// weight `nw`; the sums are scaled by 1 / sqrt(mean(x²) + eps) at the end. Each element of x is
// loaded once per workgroup (K % 16 == 0 and one row of x, which the lowering ensures: x's vec4
// i is the weight's vec4 i), so `ss` sums the whole row across the workgroup.
//@include bytes
//@include dtype
//@include xvec
//@include reduce
//@include xnorm

struct Params {
    k: u32,
    rows: u32,
    pairs: u32,
    slots: u32,
    row_bytes: u32,
    expert_bytes: u32,
    e_lo: u32,
    e_hi: u32,
    experts: u32,
    first: u32,
    norm: u32,
    eps: f32,
    sh: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> wg_gate: array<u32>;
@group(0) @binding(2) var<storage, read> wg_up: array<u32>;
@group(0) @binding(3) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> ids: array<i32>;
@group(0) @binding(5) var<storage, read> nw: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read> sh_gate: array<u32>;
@group(0) @binding(7) var<storage, read> sh_up: array<u32>;
@group(0) @binding(8) var<storage, read_write> out: array<f32>;

var<workgroup> expert: i32;
var<private> which: u32;

// which: 0 gate, 1 up; 2 and 3 the shared expert's
fn ld(i: u32) -> u32 {
    switch which {
        case 0u: {
            return wg_gate[i];
        }
        case 1u: {
            return wg_up[i];
        }
        case 2u: {
            return sh_gate[i];
        }
        default: {
            return sh_up[i];
        }
    }
}

fn exact(v: vec4<f32>) -> vec4<f32> {
    return v;
}

// Sixteen weights of four rows (byte offsets rb) against one x step.
fn dot16x4(rb: vec4<u32>, i: u32, xv: V16) -> vec4<f32> {
    return vec4<f32>(dot16(dq16(rb.x, i), xv), dot16(dq16(rb.y, i), xv), dot16(dq16(rb.z, i), xv), dot16(dq16(rb.w, i), xv));
}

fn dot4x4(rb: vec4<u32>, i: u32, xv: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(dot(dq4(rb.x, i), xv), dot(dq4(rb.y, i), xv), dot(dq4(rb.z, i), xv), dot(dq4(rb.w, i), xv));
}

fn dot1x4(rb: vec4<u32>, i: u32, xv: f32) -> vec4<f32> {
    return vec4<f32>(dq1(rb.x, i), dq1(rb.y, i), dq1(rb.z, i), dq1(rb.w, i)) * xv;
}

// The gate and up sums of one invocation over x row `xo`: weights `base` and `base + 1` of ld.
fn products(base: u32, rb: vec4<u32>, xo: u32, li: u32) -> array<vec4<f32>, 2> {
    var g = vec4<f32>(0.0);
    var u = vec4<f32>(0.0);
    if (QK > 1u) {
        for (var i = li * 16u; i < p.k; i = i + WG * 16u) {
            let xv = x16(xo + i);
            which = base;
            g = g + dot16x4(rb, i, xv);
            which = base + 1u;
            u = u + dot16x4(rb, i, xv);
        }
    }
    let k4 = select(p.k & ~3u, 0u, QK > 1u);
    for (var i = li * 4u; i < k4; i = i + WG * 4u) {
        let xv = x4(xo + i);
        which = base;
        g = g + dot4x4(rb, i, xv);
        which = base + 1u;
        u = u + dot4x4(rb, i, xv);
    }
    for (var i = select(k4, p.k, QK > 1u) + li; i < p.k; i = i + WG) {
        let xv = x1(xo + i);
        which = base;
        g = g + dot1x4(rb, i, xv);
        which = base + 1u;
        u = u + dot1x4(rb, i, xv);
    }
    return array<vec4<f32>, 2>(g, u);
}

const NR: u32 = 4u;

@compute @workgroup_size(WG)
fn main(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let wid = wg.x + wg.y * nwg.x;
    let groups = (p.rows + NR - 1u) / NR;
    // out slots per token; `pairs` counts the routed (token, slot) pairs
    let hs = p.slots + p.sh;
    if (wid >= (p.pairs / p.slots) * hs * groups) {
        return;
    }
    let opair = wid / groups;
    let row0 = (wid % groups) * NR;
    let tok = opair / hs;
    let slot = opair % hs;
    let live = lane.index < NR && row0 + lane.index < p.rows;
    var base = 0u;
    var eb = 0u;
    if (slot == p.slots) {
        if (p.first == 0u) {
            return;
        }
        base = 2u;
    } else {
        if (lane.index == 0u) {
            expert = ids[tok * p.slots + slot];
        }
        let e = workgroupUniformLoad(&expert);
        if (e < 0 || u32(e) >= p.experts) {
            if (p.first == 1u && live) {
                out[opair * p.rows + row0 + lane.index] = 0.0;
            }
            return;
        }
        if (u32(e) < p.e_lo || u32(e) >= p.e_hi) {
            return;
        }
        eb = (u32(e) - p.e_lo) * p.expert_bytes;
    }
    let last = p.rows - 1u;
    let rb = vec4<u32>(eb) + vec4<u32>(row0, min(row0 + 1u, last), min(row0 + 2u, last), min(row0 + 3u, last)) * p.row_bytes;
    let xo = tok * p.k;
    // two call sites with constant `base`, so that each inlined copy reads its weights without
    // choosing between the bindings at every load
    var gu: array<vec4<f32>, 2>;
    if (base == 2u) {
        gu = products(2u, rb, xo, lane.index);
    } else {
        gu = products(0u, rb, xo, lane.index);
    }
    let g = gu[0];
    let u = gu[1];
    let r = norm_scale(lane);
    let gs = wg_sum4(g, lane) * r;
    let us = wg_sum4(u, lane) * r;
    if (live) {
        let gv = lane4(gs, lane.index);
        out[opair * p.rows + row0 + lane.index] = gv / (1.0 + exp(-gv)) * lane4(us, lane.index);
    }
}
