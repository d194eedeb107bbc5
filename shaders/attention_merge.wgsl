// attention_merge: combines the partials of split attention (attention.wgsl with `split` 2, on
// backends other than Vulkan, where attention's last workgroup cannot rely on seeing the other
// workgroups' partials): for each query head, M = max_s m_s,
// out = Σ_s acc_s e^(m_s - M) / Σ_s l_s e^(m_s - M), in split order as attention.wgsl's merge.
// One workgroup per query head; empty splits (m = -inf, l = 0) add nothing.

struct Params {
    rows: u32,   // tokens * heads
    splits: u32,
    dv: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let wid = wg.x + wg.y * nwg.x;
    if (wid >= p.rows) {
        return;
    }
    let stride = p.dv + 2u;
    let base = wid * p.splits * stride;
    var mx = bitcast<f32>(0xFF800000u);
    for (var s = 0u; s < p.splits; s = s + 1u) {
        mx = max(mx, part[base + s * stride]);
    }
    var l = 0.0;
    for (var s = 0u; s < p.splits; s = s + 1u) {
        let o = base + s * stride;
        if (part[o + 1u] > 0.0) {
            l = l + part[o + 1u] * exp(part[o] - mx);
        }
    }
    for (var dim = li; dim < p.dv; dim = dim + WG) {
        var a = 0.0;
        for (var s = 0u; s < p.splits; s = s + 1u) {
            let o = base + s * stride;
            if (part[o + 1u] > 0.0) {
                a = a + part[o + 2u + dim] * exp(part[o] - mx);
            }
        }
        out[wid * p.dv + dim] = a / l;
    }
}
