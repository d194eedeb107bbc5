// mat_vec: out[b, n0 + r] = Σ_i W[r, i] x[b, i] for up to MAX_B rows b of x (the decode path).
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
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn ld(i: u32) -> u32 {
    return w[i];
}

fn exact(v: vec4<f32>) -> vec4<f32> {
    return v;
}

fn x4(o: u32) -> vec4<f32> {
    return vec4<f32>(x[o], x[o + 1u], x[o + 2u], x[o + 3u]);
}

@compute @workgroup_size(WG)
fn main(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let rb = row * p.row_bytes;
    var acc: array<f32, MAX_B>;
    let k4 = p.k & ~3u;
    for (var i = lane.index * 4u; i < k4; i = i + WG * 4u) {
        let wv = dq4(rb, i);
        for (var b = 0u; b < p.b; b = b + 1u) {
            acc[b] = acc[b] + dot(wv, x4(b * p.k + i));
        }
    }
    // the last k % 4 elements (plain dtypes only; quantized rows are whole blocks)
    for (var i = k4 + lane.index; i < p.k; i = i + WG) {
        let wv = dq1(rb, i);
        for (var b = 0u; b < p.b; b = b + 1u) {
            acc[b] = acc[b] + wv * x[b * p.k + i];
        }
    }
    for (var b = 0u; b < p.b; b = b + 1u) {
        let s = wg_sum(acc[b], lane);
        if (lane.index == 0u) {
            out[b * p.out_stride + p.n0 + row] = s;
        }
    }
}
