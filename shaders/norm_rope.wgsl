// norm_rope, the per-head step of qkv_norm_rope: row r = (token, head) holds d values read from
// x[token * src_stride + src_off + head * d ..] (a slice of the fused QKV rows); they are
// RMS-normalized, times w (QK-norm), then rotated as `rope` does (NEOX, first n_rot dims), and
// written to out[dst + r * d ..] (dst: where the batch starts in a KV cache, or 0).
// One workgroup per row.
//@include reduce
//@include angles

const MAX_D: u32 = 512u;

struct Params {
    rows: u32,
    d: u32,
    eps: f32,
    heads: u32,
    src_stride: u32,
    src_off: u32,
    n_rot: u32,
    dst: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> pos: array<i32>;
@group(0) @binding(4) var<storage, read> inv_freq: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

var<workgroup> vals: array<f32, MAX_D>;

@compute @workgroup_size(WG)
fn main(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    let tok = row / p.heads;
    let src = tok * p.src_stride + p.src_off + (row % p.heads) * p.d;
    var ss = 0.0;
    for (var i = lane.index; i < p.d; i = i + WG) {
        let v = x[src + i];
        vals[i] = v;
        ss = ss + v * v;
    }
    // wg_sum's barriers also make vals visible to the whole workgroup
    let scale = 1.0 / sqrt(wg_sum(ss, lane) / f32(p.d) + p.eps);
    let half = p.n_rot / 2u;
    let o = p.dst + row * p.d;
    for (var i = lane.index; i < p.d; i = i + WG) {
        if (i >= p.n_rot) {
            out[o + i] = vals[i] * scale * w[i];
        } else {
            let j = i % half;
            let x0 = vals[j] * scale * w[j];
            let x1 = vals[j + half] * scale * w[j + half];
            let sc = sin_cos(f32(pos[tok]) * inv_freq[j]);
            if (i < half) {
                out[o + i] = x0 * sc.y - x1 * sc.x;
            } else {
                out[o + i] = x0 * sc.x + x1 * sc.y;
            }
        }
    }
}
