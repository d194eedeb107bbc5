// mat_vec: out[b, n0 + r] = Σ_i W[r, i] x[b, i] for up to MAX_B rows b of x (the decode path).
// With `add`, plus a[b, n0 + r] (mul_mat_add).
// One workgroup per weight row; each row is dequantized once and used for every b. A weight
// split over several buffers runs once per chunk, n0 being the chunk's first row.
//@include bytes
//@include dtype
//@include reduce

const MAX_B: u32 = 8u;

struct Params {
    k: u32,          // inner size
    rows: u32,       // weight rows in this chunk
    out_stride: u32, // N, the output row length
    n0: u32,         // output column of this chunk's first row
    b: u32,          // rows of x, at most MAX_B
    row_bytes: u32,
    add: u32,        // 1: add `a` (mul_mat_add's addend, shaped like out)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> a: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

fn ld(i: u32) -> u32 {
    return w[i];
}

fn exact(v: vec4<f32>) -> vec4<f32> {
    return v;
}

// x is read as vec4s (every buffer is a multiple of 16 bytes): one load for four aligned
// floats, which is what the quantized paths always ask for.
fn x1(o: u32) -> f32 {
    return x[o >> 2u][o & 3u];
}

fn x4(o: u32) -> vec4<f32> {
    if ((o & 3u) == 0u) {
        return x[o >> 2u];
    }
    return vec4<f32>(x1(o), x1(o + 1u), x1(o + 2u), x1(o + 3u));
}

fn dot16(v: V16, o: u32) -> f32 {
    return dot(v.a, x4(o)) + dot(v.b, x4(o + 4u)) + dot(v.c, x4(o + 8u)) + dot(v.d, x4(o + 12u));
}

@compute @workgroup_size(WG)
fn main(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let rb = row * p.row_bytes;
    var acc: array<f32, MAX_B>;
    if (QK > 1u) {
        // quantized rows are whole blocks: sixteen elements a step, one scale decode
        for (var i = lane.index * 16u; i < p.k; i = i + WG * 16u) {
            let wv = dq16(rb, i);
            for (var b = 0u; b < MAX_B; b = b + 1u) {
                if (b < p.b) {
                    acc[b] = acc[b] + dot16(wv, b * p.k + i);
                }
            }
        }
    }
    let k4 = select(p.k & ~3u, 0u, QK > 1u);
    for (var i = lane.index * 4u; i < k4; i = i + WG * 4u) {
        let wv = dq4(rb, i);
        for (var b = 0u; b < MAX_B; b = b + 1u) {
            if (b < p.b) {
                acc[b] = acc[b] + dot(wv, x4(b * p.k + i));
            }
        }
    }
    // the last k % 4 elements (plain dtypes only)
    for (var i = select(k4, p.k, QK > 1u) + lane.index; i < p.k; i = i + WG) {
        let wv = dq1(rb, i);
        for (var b = 0u; b < MAX_B; b = b + 1u) {
            if (b < p.b) {
                acc[b] = acc[b] + wv * x1(b * p.k + i);
            }
        }
    }
    // constant trip counts: the batch loops unroll and acc stays in registers
    for (var b = 0u; b < MAX_B; b = b + 1u) {
        if (b < p.b) {
            let s = wg_sum(acc[b], lane);
            if (lane.index == 0u) {
                let o = b * p.out_stride + p.n0 + row;
                if (p.add == 1u) {
                    out[o] = s + a[o];
                } else {
                    out[o] = s;
                }
            }
        }
    }
}
