// norm_rope, the whole of qkv_norm_rope in one launch. Each token's fused QKV row
// x[token * src_stride ..] holds `heads` q heads of d, then `kv_heads` k heads of d, then
// `kv_heads` v heads of dv. One workgroup per (token, head row), heads + 2 kv_heads rows a token:
// - a q head is RMS-normalized, times qn (QK-norm), rotated as `rope` does (NEOX, first n_rot
//   dims) and written to q[(token * heads + head) * d ..];
// - a k head likewise with kn, written straight into its cache at position pos0 + token;
// - a v head is copied into its cache at position pos0 + token.
// The branch is uniform per workgroup, so the norm's barriers are too.
//@include reduce
//@include angles

const MAX_D: u32 = 512u;

struct Params {
    tokens: u32,
    heads: u32,
    kv_heads: u32,
    d: u32,
    dv: u32,
    eps: f32,
    src_stride: u32,
    n_rot: u32,
    pos0: u32, // the cache row of the batch's first token (kv - t)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> qn: array<f32>;
@group(0) @binding(3) var<storage, read> kn: array<f32>;
@group(0) @binding(4) var<storage, read> pos: array<i32>;
@group(0) @binding(5) var<storage, read> inv_freq: array<f32>;
@group(0) @binding(6) var<storage, read_write> q: array<f32>;
@group(0) @binding(7) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(8) var<storage, read_write> v_cache: array<f32>;

var<workgroup> vals: array<f32, MAX_D>;

// Element i of the normalized (times w_i, w_j: the QK-norm weights of i and of its RoPE partner)
// and rotated head in `vals`.
fn rotated(i: u32, scale: f32, wi: f32, wp: f32, tok: u32) -> f32 {
    if (i >= p.n_rot) {
        return vals[i] * scale * wi;
    }
    let half = p.n_rot / 2u;
    let j = i % half;
    let sc = sin_cos(f32(pos[tok]) * inv_freq[j]);
    if (i < half) {
        return vals[i] * scale * wi * sc.y - vals[i + half] * scale * wp * sc.x;
    }
    return vals[i - half] * scale * wp * sc.x + vals[i] * scale * wi * sc.y;
}

// The RoPE partner of dim i (itself past n_rot).
fn partner(i: u32) -> u32 {
    let half = p.n_rot / 2u;
    if (i >= p.n_rot) {
        return i;
    }
    if (i < half) {
        return i + half;
    }
    return i - half;
}

@compute @workgroup_size(WG)
fn main(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let per_token = p.heads + 2u * p.kv_heads;
    let row = wg.x + wg.y * nwg.x;
    if (row >= p.tokens * per_token) {
        return;
    }
    let tok = row / per_token;
    let hr = row % per_token;
    let src = tok * p.src_stride;
    if (hr >= p.heads + p.kv_heads) {
        // v: a copy into its cache
        let vh = hr - p.heads - p.kv_heads;
        let at = src + (p.heads + p.kv_heads) * p.d + vh * p.dv;
        let to = ((p.pos0 + tok) * p.kv_heads + vh) * p.dv;
        for (var i = lane.index; i < p.dv; i = i + WG) {
            v_cache[to + i] = x[at + i];
        }
        return;
    }
    let at = src + hr * p.d;
    var ss = 0.0;
    for (var i = lane.index; i < p.d; i = i + WG) {
        let v = x[at + i];
        vals[i] = v;
        ss = ss + v * v;
    }
    // wg_sum's barriers also make vals visible to the whole workgroup
    let scale = 1.0 / sqrt(wg_sum(ss, lane) / f32(p.d) + p.eps);
    if (hr < p.heads) {
        let to = (tok * p.heads + hr) * p.d;
        for (var i = lane.index; i < p.d; i = i + WG) {
            q[to + i] = rotated(i, scale, qn[i], qn[partner(i)], tok);
        }
        return;
    }
    let kh = hr - p.heads;
    let to = ((p.pos0 + tok) * p.kv_heads + kh) * p.d;
    for (var i = lane.index; i < p.d; i = i + WG) {
        k_cache[to + i] = rotated(i, scale, kn[i], kn[partner(i)], tok);
    }
}
