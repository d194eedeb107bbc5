// gate_up (a dense SwiGLU's two products in one): out[b, n0 + r] = silu(gate[r] · x[b]) *
// (up[r] · x[b]) for up to MAX_B rows b of x (MAX_B from the prelude, as in mat_vec). As
// mat_vec, with both weights read in one pass over x (`ld` reads the one `which` names); gate and
// up are split identically.
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
    out_stride: u32,
    n0: u32,
    b: u32,
    row_bytes: u32,
    norm: u32,
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> wg_gate: array<u32>;
@group(0) @binding(2) var<storage, read> wg_up: array<u32>;
@group(0) @binding(3) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read> nw: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

var<private> which: u32;

fn ld(i: u32) -> u32 {
    if (which == 0u) {
        return wg_gate[i];
    }
    return wg_up[i];
}

fn exact(v: vec4<f32>) -> vec4<f32> {
    return v;
}

@compute @workgroup_size(WG)
fn main(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let rb = row * p.row_bytes;
    var g: array<f32, MAX_B>;
    var u: array<f32, MAX_B>;
    if (QK > 1u) {
        for (var i = lane.index * 16u; i < p.k; i = i + WG * 16u) {
            which = 0u;
            let gv = dq16(rb, i);
            which = 1u;
            let uv = dq16(rb, i);
            for (var b = 0u; b < MAX_B; b = b + 1u) {
                if (b < p.b) {
                    let xv = x16(b * p.k + i);
                    g[b] = g[b] + dot16(gv, xv);
                    u[b] = u[b] + dot16(uv, xv);
                }
            }
        }
    }
    let k4 = select(p.k & ~3u, 0u, QK > 1u);
    for (var i = lane.index * 4u; i < k4; i = i + WG * 4u) {
        which = 0u;
        let gv = dq4(rb, i);
        which = 1u;
        let uv = dq4(rb, i);
        for (var b = 0u; b < MAX_B; b = b + 1u) {
            if (b < p.b) {
                let xv = x4(b * p.k + i);
                g[b] = g[b] + dot(gv, xv);
                u[b] = u[b] + dot(uv, xv);
            }
        }
    }
    for (var i = select(k4, p.k, QK > 1u) + lane.index; i < p.k; i = i + WG) {
        which = 0u;
        let gv = dq1(rb, i);
        which = 1u;
        let uv = dq1(rb, i);
        for (var b = 0u; b < MAX_B; b = b + 1u) {
            if (b < p.b) {
                g[b] = g[b] + gv * x1(b * p.k + i);
                u[b] = u[b] + uv * x1(b * p.k + i);
            }
        }
    }
    let r = norm_scale(lane);
    for (var b = 0u; b < MAX_B; b = b + 1u) {
        if (b < p.b) {
            let gs = wg_sum(g[b], lane) * r;
            let us = wg_sum(u[b], lane) * r;
            if (lane.index == 0u) {
                out[b * p.out_stride + p.n0 + row] = gs / (1.0 + exp(-gs)) * us;
            }
        }
    }
}
