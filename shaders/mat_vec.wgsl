// mat_vec: out[b, n0 + r] = Σ_i W[r, i] x[b, i] for up to MAX_B rows b of x (the decode path;
// MAX_B comes from the prelude: 1 for a decode step's plan, 8 for small batches).
// With `add`, plus a[b, n0 + r] (mul_mat_add).
// One workgroup per NR = 4 weight rows: each invocation takes sixteen-element steps of all four
// rows, so every x load serves four rows and each row is dequantized once for every b; the four
// rows' sums are reduced together. A weight split over several buffers runs once per chunk, n0
// being the chunk's first row.
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

const NR: u32 = 4u;

struct Params {
    k: u32,          // inner size
    rows: u32,       // weight rows in this chunk
    out_stride: u32, // N, the output row length
    n0: u32,         // output column of this chunk's first row
    b: u32,          // rows of x, at most MAX_B
    row_bytes: u32,
    add: u32,        // 1: add `a` (mul_mat_add's addend, shaped like out)
    norm: u32,       // 1: x is rms-normed here (see above)
    eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> a: array<f32>;
@group(0) @binding(4) var<storage, read> nw: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

fn ld(i: u32) -> u32 {
    return w[i];
}

fn exact(v: vec4<f32>) -> vec4<f32> {
    return v;
}

@compute @workgroup_size(WG)
fn main(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row0 = (wg.x + wg.y * nwg.x) * NR;
    if (row0 >= p.rows) {
        return;
    }
    // rows past the end read the last row; their sums are not written
    let last = p.rows - 1u;
    let rb0 = row0 * p.row_bytes;
    let rb1 = min(row0 + 1u, last) * p.row_bytes;
    let rb2 = min(row0 + 2u, last) * p.row_bytes;
    let rb3 = min(row0 + 3u, last) * p.row_bytes;
    var acc: array<vec4<f32>, MAX_B>;
    if (QK > 1u) {
        // quantized rows are whole blocks: sixteen elements a step, one scale decode
        for (var i = lane.index * 16u; i < p.k; i = i + WG * 16u) {
            let w0 = dq16(rb0, i);
            let w1 = dq16(rb1, i);
            let w2 = dq16(rb2, i);
            let w3 = dq16(rb3, i);
            for (var b = 0u; b < MAX_B; b = b + 1u) {
                if (b < p.b) {
                    let xv = x16(b * p.k + i);
                    acc[b] = acc[b] + vec4<f32>(dot16(w0, xv), dot16(w1, xv), dot16(w2, xv), dot16(w3, xv));
                }
            }
        }
    }
    let k4 = select(p.k & ~3u, 0u, QK > 1u);
    for (var i = lane.index * 4u; i < k4; i = i + WG * 4u) {
        let w0 = dq4(rb0, i);
        let w1 = dq4(rb1, i);
        let w2 = dq4(rb2, i);
        let w3 = dq4(rb3, i);
        for (var b = 0u; b < MAX_B; b = b + 1u) {
            if (b < p.b) {
                let xv = x4(b * p.k + i);
                acc[b] = acc[b] + vec4<f32>(dot(w0, xv), dot(w1, xv), dot(w2, xv), dot(w3, xv));
            }
        }
    }
    // the last k % 4 elements (plain dtypes only)
    for (var i = select(k4, p.k, QK > 1u) + lane.index; i < p.k; i = i + WG) {
        let wv = vec4<f32>(dq1(rb0, i), dq1(rb1, i), dq1(rb2, i), dq1(rb3, i));
        for (var b = 0u; b < MAX_B; b = b + 1u) {
            if (b < p.b) {
                acc[b] = acc[b] + wv * x1(b * p.k + i);
            }
        }
    }
    let r = norm_scale(lane);
    // constant trip counts: the batch loops unroll and acc stays in registers
    for (var b = 0u; b < MAX_B; b = b + 1u) {
        if (b < p.b) {
            let s = wg_sum4(acc[b], lane) * r;
            if (lane.index < NR && row0 + lane.index < p.rows) {
                let o = b * p.out_stride + p.n0 + row0 + lane.index;
                let v = lane4(s, lane.index);
                if (p.add == 1u) {
                    out[o] = v + a[o];
                } else {
                    out[o] = v;
                }
            }
        }
    }
}
