// attention_tiled: attention.wgsl's result for prefill batches, with each key and value loaded
// once for a block of queries instead of once per query. A workgroup takes QR query rows that
// share one KV head: TB = QR / g consecutive tokens times the g query heads of KV head `kh`
// (g = heads / kv_heads). Keys go in chunks of KC through workgroup memory:
// 1. the chunk's keys; invocation i scores rows 4 (i / KC) .. + 4 against key i % KC (causal:
//    key j is seen by query t when j <= kv - T + t);
// 2. the four invocations of each row update its running max and sum (online softmax), turn the
//    scores into probabilities and leave the correction of earlier sums;
// 3. the chunk's values; invocation i adds them to its row's output dims (vec4 groups i % 4,
//    i % 4 + 4, ...).
// Head dims are multiples of four, at most 4 * MAXD4 (the lowering checks, else attention.wgsl).
// Rows of q, keys and values are RS = MAXD4 + 1 vec4s apart in workgroup memory, so that the
// rows a subgroup reads at once fall in different banks. Workgroup memory: (QR + KC) * RS vec4s
// and QR * (KC + 7) floats (27.6 KiB).

const QR: u32 = 32u;
const KC: u32 = 16u;
const MAXD4: u32 = 32u;
const RS: u32 = MAXD4 + 1u;

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
@group(0) @binding(1) var<storage, read> q: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> k: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> qs: array<vec4<f32>, QR * RS>;
var<workgroup> kvs: array<vec4<f32>, KC * RS>; // the chunk's keys, then its values
var<workgroup> sc: array<f32, QR * KC>;           // scores, then probabilities
var<workgroup> corr: array<f32, QR>;    // the correction of a row's earlier sums
var<workgroup> row_max: array<f32, QR>; // running max and sum of each row (online softmax)
var<workgroup> row_sum: array<f32, QR>;
var<workgroup> part: array<f32, WG>;    // partial maxima, then partial sums, of the four per row

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let g = p.heads / p.kv_heads;
    let tb = QR / g;
    let kh = wg.y;
    let t0 = wg.x * tb;
    let d4 = p.d / 4u;
    let dv4 = p.dv / 4u;
    let neg_inf = bitcast<f32>(0xFF800000u);
    // row r: token t0 + r / g, query head kh * g + r % g
    for (var i = li; i < QR * d4; i = i + WG) {
        let r = i / d4;
        let t = t0 + r / g;
        var val = vec4<f32>(0.0);
        if (r < tb * g && t < p.tokens) {
            val = q[(t * p.heads + kh * g + r % g) * d4 + i % d4];
        }
        qs[r * RS + i % d4] = val;
    }
    // keys up to the last query's position
    let t_last = min(t0 + tb, p.tokens) - 1u;
    let j_end = p.kv - p.tokens + t_last + 1u;
    let row = li / 4u;
    let quarter = li % 4u;
    if (li < QR) {
        row_max[li] = neg_inf;
        row_sum[li] = 0.0;
    }
    var acc: array<vec4<f32>, 8>;
    for (var j0 = 0u; j0 < j_end; j0 = j0 + KC) {
        for (var i = li; i < KC * d4; i = i + WG) {
            let j = j0 + i / d4;
            var val = vec4<f32>(0.0);
            if (j < j_end) {
                val = k[(j * p.kv_heads + kh) * d4 + i % d4];
            }
            kvs[(i / d4) * RS + i % d4] = val;
        }
        workgroupBarrier();
        {
            let kk = li % KC;
            let r0 = 4u * (li / KC);
            var s4 = vec4<f32>(0.0);
            for (var c = 0u; c < d4; c = c + 1u) {
                let kv = kvs[kk * RS + c];
                let a = vec4<f32>(dot(qs[r0 * RS + c], kv), dot(qs[(r0 + 1u) * RS + c], kv), dot(qs[(r0 + 2u) * RS + c], kv), dot(qs[(r0 + 3u) * RS + c], kv));
                s4 = s4 + a;
            }
            let j = j0 + kk;
            for (var u = 0u; u < 4u; u = u + 1u) {
                let seen = p.kv - p.tokens + t0 + (r0 + u) / g; // the last key row r0 + u sees
                sc[(r0 + u) * KC + kk] = select(neg_inf, s4[u] * p.scale, j < j_end && j <= seen);
            }
        }
        workgroupBarrier();
        // four invocations a row, each over four of the chunk's scores: the row's new max, then
        // probabilities and partial sums; the first of the four updates the row's max and sum
        let mine = row * KC + 4u * quarter;
        let m_old = row_max[row];
        part[li] = max(max(sc[mine], sc[mine + 1u]), max(sc[mine + 2u], sc[mine + 3u]));
        workgroupBarrier();
        let q4 = 4u * row;
        let mx = max(m_old, max(max(part[q4], part[q4 + 1u]), max(part[q4 + 2u], part[q4 + 3u])));
        var sum = 0.0;
        for (var u = 0u; u < 4u; u = u + 1u) {
            var e = 0.0;
            if (mx != neg_inf) {
                e = exp(sc[mine + u] - mx);
            }
            sc[mine + u] = e;
            sum = sum + e;
        }
        workgroupBarrier();
        part[li] = sum;
        workgroupBarrier();
        if (quarter == 0u) {
            var c = 1.0;
            if (mx != neg_inf) {
                c = exp(m_old - mx);
            }
            row_sum[row] = row_sum[row] * c + ((part[q4] + part[q4 + 1u]) + (part[q4 + 2u] + part[q4 + 3u]));
            row_max[row] = mx;
            corr[row] = c;
        }
        workgroupBarrier();
        for (var i = li; i < KC * dv4; i = i + WG) {
            let j = j0 + i / dv4;
            var val = vec4<f32>(0.0);
            if (j < j_end) {
                val = v[(j * p.kv_heads + kh) * dv4 + i % dv4];
            }
            kvs[(i / dv4) * RS + i % dv4] = val;
        }
        workgroupBarrier();
        let cr = corr[row];
        for (var u = 0u; u < 8u; u = u + 1u) {
            let c = quarter + 4u * u;
            if (c < dv4) {
                var a = acc[u] * cr;
                for (var kk = 0u; kk < KC; kk = kk + 1u) {
                    a = a + sc[row * KC + kk] * kvs[kk * RS + c];
                }
                acc[u] = a;
            }
        }
        workgroupBarrier();
    }
    let t = t0 + row / g;
    if (row < tb * g && t < p.tokens) {
        let o = (t * p.heads + kh * g + row % g) * p.dv;
        for (var u = 0u; u < 8u; u = u + 1u) {
            let c = quarter + 4u * u;
            if (c < dv4) {
                for (var e = 0u; e < 4u; e = e + 1u) {
                    out[o + 4u * c + e] = acc[u][e] / row_sum[row];
                }
            }
        }
    }
}
