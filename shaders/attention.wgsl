// attention: out[t, h, :] = softmax_j(q[t, h] · k[j, kh] * scale) v[j, kh, :] over j <= kv - T + t
// (causal; query t of the T in the batch sits at position kv - T + t), kh = h / (heads / kv_heads).
// k and v are [kv, kv_heads, d] (the KV caches). One workgroup per (token, head): keys in chunks
// of WG, one key per invocation, with a running max and sum (online softmax); each invocation
// accumulates output dims lane, lane + WG, ... (dv <= WG * MAX_DV_PER_LANE).
//@include reduce

const MAX_D: u32 = 512u;
const MAX_DV_PER_LANE: u32 = 8u;

struct Params {
    tokens: u32,
    heads: u32,
    kv_heads: u32,
    d: u32,
    dv: u32,
    kv: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> qs: array<f32, MAX_D>;
var<workgroup> probs: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(lane: Lane, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let wid = wg.x + wg.y * nwg.x;
    if (wid >= p.tokens * p.heads) {
        return;
    }
    let t = wid / p.heads;
    let h = wid % p.heads;
    let kh = h / (p.heads / p.kv_heads);
    let last = p.kv - p.tokens + t; // the last position this query sees
    for (var i = lane.index; i < p.d; i = i + WG) {
        qs[i] = q[wid * p.d + i];
    }
    workgroupBarrier();
    let neg_inf = bitcast<f32>(0xFF800000u);
    var m = neg_inf;
    var l = 0.0;
    var acc: array<f32, MAX_DV_PER_LANE>;
    for (var j0 = 0u; j0 <= last; j0 = j0 + WG) {
        let j = j0 + lane.index;
        var s = neg_inf;
        if (j <= last) {
            let ko = (j * p.kv_heads + kh) * p.d;
            var dot_qk = 0.0;
            for (var i = 0u; i < p.d; i = i + 1u) {
                dot_qk = dot_qk + qs[i] * k[ko + i];
            }
            s = dot_qk * p.scale;
        }
        let m_new = max(m, wg_max(s, lane));
        let pr = exp(s - m_new);
        let corr = exp(m - m_new);
        probs[lane.index] = pr;
        l = l * corr + wg_sum(pr, lane);
        // wg_sum ended with a barrier, so probs is complete here
        let n_keys = min(WG, last + 1u - j0);
        for (var c = 0u; c < MAX_DV_PER_LANE; c = c + 1u) {
            let dim = lane.index + c * WG;
            if (dim < p.dv) {
                var a = acc[c] * corr;
                for (var jj = 0u; jj < n_keys; jj = jj + 1u) {
                    a = a + probs[jj] * v[((j0 + jj) * p.kv_heads + kh) * p.dv + dim];
                }
                acc[c] = a;
            }
        }
        m = m_new;
        workgroupBarrier();
    }
    for (var c = 0u; c < MAX_DV_PER_LANE; c = c + 1u) {
        let dim = lane.index + c * WG;
        if (dim < p.dv) {
            out[wid * p.dv + dim] = acc[c] / l;
        }
    }
}
