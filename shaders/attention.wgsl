// attention: out[t, h, :] = softmax_j(q[t, h] · k[j, kh] * scale) v[j, kh, :] over j <= kv - T + t
// (causal; query t of the T in the batch sits at position kv - T + t), kh = h / (heads / kv_heads).
// k and v are [kv, kv_heads, d] (the KV caches). One workgroup per (token, head): keys in chunks
// of WG, one key per invocation, with a running max and sum (online softmax). Values go in
// groups of four dims: each half of the workgroup takes half of a chunk's keys, invocation l of
// a half the groups l, l + 32, ... (dv <= 4 * 32 * MAX_DV4_PER_LANE), and the halves add up at
// the end. Head dims that are a multiple of four read k as vec4s; key and value reads are
// unrolled by eight so that many loads are in flight (a decode workgroup has little else to hide
// latency).
// With `split` (decode: few queries, many keys), workgroup (query head, s) takes keys
// [s * chunk, (s + 1) * chunk) only and writes its running max, sum and unnormalized output as a
// partial (`m, l, acc[dv]` per (query head, split)) to `part`; the last workgroup of a query head
// to finish (a counter per head, reset by that workgroup) merges them, one split per invocation
// (splits <= WG; the lowering widens the chunk to keep them so): M = max_s m_s,
// out = Σ_s acc_s e^(m_s - M) / Σ_s l_s e^(m_s - M). Partials cross workgroups, so they are
// written and read with atomic operations after storage barriers: naga gives those barriers
// device-scope acquire/release semantics in SPIR-V, which is what orders a partial before its
// counter. WGSL itself promises only workgroup scope, so elsewhere than Vulkan the lowering asks
// for partials only (`split` 2) and merges them with attention_merge.wgsl.
//@include reduce

const MAX_D: u32 = 512u;
const MAX_DV4_PER_LANE: u32 = 4u;

struct Params {
    tokens: u32,
    heads: u32,
    kv_heads: u32,
    d: u32,
    dv: u32,
    kv: u32,
    scale: f32,
    chunk: u32,  // keys per split
    split: u32,  // 0: whole queries; 1: partials, merged by the last workgroup; 2: partials only
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read_write> part: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read_write> counters: array<atomic<u32>>;

var<workgroup> qs: array<vec4<f32>, MAX_D / 4u>;
var<workgroup> probs: array<f32, WG>;
var<workgroup> arrived: u32;
var<workgroup> vsum: array<vec4<f32>, 32u * MAX_DV4_PER_LANE>;

// Four values from element o of v (dims past dv read the next row; they are never written).
fn v4_at(o: u32) -> vec4<f32> {
    if ((o & 3u) == 0u) {
        return v[o >> 2u];
    }
    return vec4<f32>(v[o >> 2u][o & 3u], v[(o + 1u) >> 2u][(o + 1u) & 3u], v[(o + 2u) >> 2u][(o + 2u) & 3u], v[(o + 3u) >> 2u][(o + 3u) & 3u]);
}

@compute @workgroup_size(WG)
fn main(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let split = p.split != 0u;
    var wid = wg.x + wg.y * nwg.x;
    var s = 0u;
    if (split) {
        wid = wg.x;
        s = wg.y;
    }
    if (wid >= p.tokens * p.heads) {
        return;
    }
    let t = wid / p.heads;
    let h = wid % p.heads;
    let kh = h / (p.heads / p.kv_heads);
    let last = p.kv - p.tokens + t; // the last position this query sees
    var j_begin = 0u;
    var j_end = last + 1u;
    if (split) {
        j_begin = s * p.chunk;
        j_end = min(j_end, j_begin + p.chunk);
    }
    for (var i = lane.index; i < p.d; i = i + WG) {
        qs[i >> 2u][i & 3u] = q[wid * p.d + i];
    }
    workgroupBarrier();
    let neg_inf = bitcast<f32>(0xFF800000u);
    var m = neg_inf;
    var l = 0.0;
    var acc: array<vec4<f32>, MAX_DV4_PER_LANE>;
    let half = lane.index / 32u;
    let l32 = lane.index % 32u;
    let d4 = (p.d & 3u) == 0u;
    for (var j0 = j_begin; j0 < j_end; j0 = j0 + WG) {
        let j = j0 + lane.index;
        var sc = neg_inf;
        if (j < j_end) {
            let ko = (j * p.kv_heads + kh) * p.d;
            var dot_qk = 0.0;
            if (d4) {
                let ko4 = ko >> 2u;
                var i = 0u;
                for (; i + 8u <= p.d / 4u; i = i + 8u) {
                    let k0 = k[ko4 + i];
                    let k1 = k[ko4 + i + 1u];
                    let k2 = k[ko4 + i + 2u];
                    let k3 = k[ko4 + i + 3u];
                    let k4 = k[ko4 + i + 4u];
                    let k5 = k[ko4 + i + 5u];
                    let k6 = k[ko4 + i + 6u];
                    let k7 = k[ko4 + i + 7u];
                    dot_qk = dot_qk + dot(qs[i], k0) + dot(qs[i + 1u], k1) + dot(qs[i + 2u], k2) + dot(qs[i + 3u], k3);
                    dot_qk = dot_qk + dot(qs[i + 4u], k4) + dot(qs[i + 5u], k5) + dot(qs[i + 6u], k6) + dot(qs[i + 7u], k7);
                }
                for (; i < p.d / 4u; i = i + 1u) {
                    dot_qk = dot_qk + dot(qs[i], k[ko4 + i]);
                }
            } else {
                for (var i = 0u; i < p.d; i = i + 1u) {
                    let o = ko + i;
                    dot_qk = dot_qk + qs[i >> 2u][i & 3u] * k[o >> 2u][o & 3u];
                }
            }
            sc = dot_qk * p.scale;
        }
        let m_new = max(m, wg_max(sc, lane));
        let pr = exp(sc - m_new);
        let corr = exp(m - m_new);
        probs[lane.index] = pr;
        l = l * corr + wg_sum(pr, lane);
        // wg_sum ended with a barrier, so probs is complete here
        let n_keys = min(WG, j_end - j0);
        let k_lo = min(half * 32u, n_keys);
        let k_hi = min(k_lo + 32u, n_keys);
        let vs = p.kv_heads * p.dv;
        for (var c = 0u; c < MAX_DV4_PER_LANE; c = c + 1u) {
            let g = l32 + 32u * c;
            if (4u * g < p.dv) {
                var a = acc[c] * corr;
                let vo = (j0 * p.kv_heads + kh) * p.dv + 4u * g;
                var jj = k_lo;
                // eight independent loads in flight, not a chain of keys
                for (; jj + 8u <= k_hi; jj = jj + 8u) {
                    let o = vo + jj * vs;
                    let v0 = v4_at(o);
                    let v1 = v4_at(o + vs);
                    let v2 = v4_at(o + 2u * vs);
                    let v3 = v4_at(o + 3u * vs);
                    let v4 = v4_at(o + 4u * vs);
                    let v5 = v4_at(o + 5u * vs);
                    let v6 = v4_at(o + 6u * vs);
                    let v7 = v4_at(o + 7u * vs);
                    a = a + probs[jj] * v0 + probs[jj + 1u] * v1 + probs[jj + 2u] * v2 + probs[jj + 3u] * v3;
                    a = a + probs[jj + 4u] * v4 + probs[jj + 5u] * v5 + probs[jj + 6u] * v6 + probs[jj + 7u] * v7;
                }
                for (; jj < k_hi; jj = jj + 1u) {
                    a = a + probs[jj] * v4_at(vo + jj * vs);
                }
                acc[c] = a;
            }
        }
        m = m_new;
        workgroupBarrier();
    }
    // the second half's sums join the first's
    for (var c = 0u; c < MAX_DV4_PER_LANE; c = c + 1u) {
        if (half == 1u) {
            vsum[l32 + 32u * c] = acc[c];
        }
    }
    workgroupBarrier();
    for (var c = 0u; c < MAX_DV4_PER_LANE; c = c + 1u) {
        acc[c] = acc[c] + vsum[l32 + 32u * c];
    }
    if (split) {
        // an empty split (past this query's last key) writes m = -inf, l = 0, acc = 0
        let stride = p.dv + 2u;
        let base = wid * nwg.y * stride;
        let mine = base + s * stride;
        if (lane.index == 0u) {
            atomicStore(&part[mine], bitcast<u32>(m));
            atomicStore(&part[mine + 1u], bitcast<u32>(l));
        }
        for (var c = 0u; c < MAX_DV4_PER_LANE; c = c + 1u) {
            for (var e = 0u; e < 4u; e = e + 1u) {
                let dim = 4u * (l32 + 32u * c) + e;
                if (half == 0u && dim < p.dv) {
                    atomicStore(&part[mine + 2u + dim], bitcast<u32>(acc[c][e]));
                }
            }
        }
        if (p.split == 2u) {
            return; // attention_merge.wgsl merges them in a launch of its own
        }
        // release this partial, then count it; the last to arrive merges
        storageBarrier();
        if (lane.index == 0u) {
            arrived = atomicAdd(&counters[wid], 1u);
        }
        if (workgroupUniformLoad(&arrived) + 1u != nwg.y) {
            return;
        }
        storageBarrier();
        // each lane takes one split's (m, l) (splits <= WG), then the factors e^(m_s - M)
        let mine_ok = lane.index < nwg.y;
        var ms = neg_inf;
        var ls = 0.0;
        if (mine_ok) {
            ms = bitcast<f32>(atomicLoad(&part[base + lane.index * stride]));
            ls = bitcast<f32>(atomicLoad(&part[base + lane.index * stride + 1u]));
        }
        let mx = wg_max(ms, lane);
        var f = 0.0;
        if (ls > 0.0) {
            f = exp(ms - mx);
        }
        probs[lane.index] = f;
        // wg_sum ends with a barrier, so every factor is in probs here
        let total = wg_sum(ls * f, lane);
        for (var dim = lane.index; dim < p.dv; dim = dim + WG) {
            var a = 0.0;
            var sp = 0u;
            // four independent loads in flight
            for (; sp + 4u <= nwg.y; sp = sp + 4u) {
                let o = base + sp * stride + 2u + dim;
                let a0 = bitcast<f32>(atomicLoad(&part[o]));
                let a1 = bitcast<f32>(atomicLoad(&part[o + stride]));
                let a2 = bitcast<f32>(atomicLoad(&part[o + 2u * stride]));
                let a3 = bitcast<f32>(atomicLoad(&part[o + 3u * stride]));
                a = a + a0 * probs[sp] + a1 * probs[sp + 1u] + a2 * probs[sp + 2u] + a3 * probs[sp + 3u];
            }
            for (; sp < nwg.y; sp = sp + 1u) {
                a = a + bitcast<f32>(atomicLoad(&part[base + sp * stride + 2u + dim])) * probs[sp];
            }
            out[wid * p.dv + dim] = a / total;
        }
        if (lane.index == 0u) {
            atomicStore(&counters[wid], 0u);
        }
        return;
    }
    for (var c = 0u; c < MAX_DV4_PER_LANE; c = c + 1u) {
        for (var e = 0u; e < 4u; e = e + 1u) {
            let dim = 4u * (l32 + 32u * c) + e;
            if (half == 0u && dim < p.dv) {
                out[wid * p.dv + dim] = acc[c][e] / l;
            }
        }
    }
}
