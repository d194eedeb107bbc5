// attention_coop: attention_tiled.wgsl's result on cooperative matrices, for devices that have
// them (as tile_coop.wgsl: 16 x 16 x 16 f16 hi/lo parts, f32 accumulators, subgroups of 32).
// A workgroup of four subgroups takes QR = 32 query rows that share KV head `kh` (TB = QR / g
// consecutive tokens times the g query heads; row r is token t0 + r / g, head kh * g + r % g),
// and the keys in chunks of KC = 32, in two passes:
// 1. each row's largest score, near enough (from the hi parts alone): per chunk, the scores
//    S = q k^T (subgroup s: rows 16 (s % 2), keys 16 (s / 2)) go through workgroup memory, where
//    four invocations a row take their maxima;
// 2. per chunk, S again (exact), then the probabilities P = exp(S - max) (zero where masked: key j is seen
//    by query t when j <= kv - T + t) and the row sums; then O += P v (subgroup s: rows 16 (s % 2),
//    value dims 64 (s / 2) .. + 64). Knowing the max first, O is never rescaled, so it stays in
//    the subgroups' accumulators.
// q, each chunk's keys and values and P are staged in workgroup memory as hi/lo f16 parts
// (split16.wgsl). Head dims are multiples of 16, at most 128 (the lowering checks). Workgroup
// memory: 4 * 32 * SD + 2 * 32 * SP f16s and 32 * 32 + 32 f32s (43.1 KiB).

//@include split16

const QR: u32 = 32u;
const KC: u32 = 32u;
// row stride of staged q, keys and values (f16s: 128 dims and a pad), and of staged P
const SD: u32 = 136u;
const SP: u32 = 40u;

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

// staged parts as vec4s of f16 (one store per four values; cooperative loads and their strides
// count in vec4s), indexed by f16 offset / 4
var<workgroup> qh: array<vec4<f16>, 1088>; // [QR][SD / 4]
var<workgroup> ql: array<vec4<f16>, 1088>;
var<workgroup> kh: array<vec4<f16>, 1088>; // [KC][SD / 4]: the chunk's keys, then its values
var<workgroup> kl: array<vec4<f16>, 1088>;
var<workgroup> ph: array<vec4<f16>, 320>; // [QR][SP / 4]: probabilities
var<workgroup> pl: array<vec4<f16>, 320>;
var<workgroup> s: array<f32, 1024>;  // [QR][KC]: scores; at the end, the subgroups' output tiles
var<workgroup> row_sum: array<f32, QR>;

// Stages four values at `o` of q (`which` 0), of the key/value chunk (1) or of P (2).
fn stage4(which: u32, o: u32, val: vec4<f32>) {
    let parts = split4(val);
    switch which {
        case 0u: {
            qh[o / 4u] = parts.hi;
            ql[o / 4u] = parts.lo;
        }
        case 1u: {
            kh[o / 4u] = parts.hi;
            kl[o / 4u] = parts.lo;
        }
        default: {
            ph[o / 4u] = parts.hi;
            pl[o / 4u] = parts.lo;
        }
    }
}

// A chunk in registers: this invocation's vec4s li + 128 u (u < 8) of the chunk's KC x 32.
struct Chunk {
    v: array<vec4<f32>, 8>,
}

// Loads keys (`values` false, d dims) or values (dv dims) j0 .. j0 + KC of KV head kh; zeros
// past j_end and past the head dim. Loaded a phase before they are staged, so that the loads'
// latency overlaps the products.
fn load_chunk(li: u32, j0: u32, j_end: u32, kh_: u32, values: bool) -> Chunk {
    let dims4 = select(p.d, p.dv, values) / 4u;
    var c: Chunk;
    for (var u = 0u; u < 8u; u = u + 1u) {
        let i = li + 128u * u;
        let j = j0 + i / 32u;
        let c4 = i % 32u;
        var val = vec4<f32>(0.0);
        if (j < j_end && c4 < dims4) {
            let at = (j * p.kv_heads + kh_) * dims4 + c4;
            if (values) {
                val = v[at];
            } else {
                val = k[at];
            }
        }
        c.v[u] = val;
    }
    return c;
}

// Stages a chunk into kh/kl; without `lo`, only the hi parts (keys for pass 1).
fn stage_chunk(li: u32, c: Chunk, lo: bool) {
    for (var u = 0u; u < 8u; u = u + 1u) {
        let i = li + 128u * u;
        let o = (i / 32u) * SD + 4u * (i % 32u);
        if (lo) {
            stage4(1u, o, c.v[u]);
        } else {
            kh[o / 4u] = vec4<f16>(hi4(c.v[u]));
        }
    }
}

// This subgroup's 16 x 16 tile of scores from the hi parts alone (each within ~2^-9 of the sum of
// |q_i k_i|), into `s`. Pass 1's maxima only keep exp from overflowing: pass 2 subtracts them, so
// P may exceed 1 by the maximum's error, e^that (which f16 holds for errors below ~10; softmax
// divides the common factor out).
fn scores_hi(rq: u32, kq: u32) {
    var sh = coop_mat16x16<f32, C>();
    for (var c = 0u; c < p.d; c = c + 16u) {
        let ah = coopLoadT<coop_mat16x16<f16, A>>(&qh[(rq * SD + c) / 4u], SD / 4u);
        let bh = coopLoad<coop_mat16x16<f16, B>>(&kh[(kq * SD + c) / 4u], SD / 4u);
        sh = coopMultiplyAdd(ah, bh, sh);
    }
    coopStoreT(sh, &s[rq * KC + kq], KC);
}

// This subgroup's 16 x 16 tile of scores (rows rq, keys kq of the chunk), into `s`.
fn scores(rq: u32, kq: u32) {
    var sh = coop_mat16x16<f32, C>();
    var sl = coop_mat16x16<f32, C>();
    for (var c = 0u; c < p.d; c = c + 16u) {
        let ah = coopLoadT<coop_mat16x16<f16, A>>(&qh[(rq * SD + c) / 4u], SD / 4u);
        let al = coopLoadT<coop_mat16x16<f16, A>>(&ql[(rq * SD + c) / 4u], SD / 4u);
        // B[dim][key] = keys[key][dim]: the staged keys, column-major
        let bh = coopLoad<coop_mat16x16<f16, B>>(&kh[(kq * SD + c) / 4u], SD / 4u);
        let bl = coopLoad<coop_mat16x16<f16, B>>(&kl[(kq * SD + c) / 4u], SD / 4u);
        sh = coopMultiplyAdd(ah, bh, sh);
        sl = coopMultiplyAdd(al, bh, coopMultiplyAdd(ah, bl, sl));
    }
    coopStoreT(sh + sl * (1.0 / LO), &s[rq * KC + kq], KC);
}

@compute @workgroup_size(128)
fn main(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(subgroup_id) sg: u32,
    @builtin(subgroup_invocation_id) lane: u32,
) {
    let g = p.heads / p.kv_heads;
    let tb = QR / g;
    let kvh = wg.y;
    let t0 = wg.x * tb;
    let d4 = p.d / 4u;
    let neg_inf = bitcast<f32>(0xFF800000u);
    for (var i = li; i < QR * 32u; i = i + 128u) {
        let r = i / 32u;
        let c4 = i % 32u;
        let t = t0 + r / g;
        var val = vec4<f32>(0.0);
        if (r < tb * g && t < p.tokens && c4 < d4) {
            val = q[(t * p.heads + kvh * g + r % g) * d4 + c4];
        }
        stage4(0u, r * SD + 4u * c4, val);
    }
    // keys up to the last query's position
    let t_last = min(t0 + tb, p.tokens) - 1u;
    let j_end = p.kv - p.tokens + t_last + 1u;
    // softmax work: four invocations a row, eight of a chunk's keys each
    let row = li / 4u;
    let k0 = 8u * (li % 4u);
    let seen = p.kv - p.tokens + t0 + row / g; // the last key this row sees
    let rq = 16u * (sg % 2u);
    let kq = 16u * (sg / 2u);

    // 1. each row's largest score (near enough: see scores_hi)
    var m = neg_inf;
    var keys = load_chunk(li, 0u, j_end, kvh, false);
    for (var j0 = 0u; j0 < j_end; j0 = j0 + KC) {
        stage_chunk(li, keys, false);
        workgroupBarrier();
        keys = load_chunk(li, j0 + KC, j_end, kvh, false);
        scores_hi(rq, kq);
        workgroupBarrier();
        for (var u = 0u; u < 8u; u = u + 1u) {
            let j = j0 + k0 + u;
            if (j < j_end && j <= seen) {
                m = max(m, s[row * KC + k0 + u] * p.scale);
            }
        }
    }
    m = max(m, subgroupShuffleXor(m, 1u));
    m = max(m, subgroupShuffleXor(m, 2u));

    // 2. probabilities, row sums and P v
    let d0 = 64u * (sg / 2u);
    var sum = 0.0;
    var oh0 = coop_mat16x16<f32, C>();
    var oh1 = coop_mat16x16<f32, C>();
    var oh2 = coop_mat16x16<f32, C>();
    var oh3 = coop_mat16x16<f32, C>();
    var ol0 = coop_mat16x16<f32, C>();
    var ol1 = coop_mat16x16<f32, C>();
    var ol2 = coop_mat16x16<f32, C>();
    var ol3 = coop_mat16x16<f32, C>();
    keys = load_chunk(li, 0u, j_end, kvh, false);
    for (var j0 = 0u; j0 < j_end; j0 = j0 + KC) {
        stage_chunk(li, keys, true);
        workgroupBarrier();
        let values = load_chunk(li, j0, j_end, kvh, true);
        keys = load_chunk(li, j0 + KC, j_end, kvh, false);
        scores(rq, kq);
        workgroupBarrier();
        for (var h = 0u; h < 2u; h = h + 1u) {
            var e = vec4<f32>(0.0);
            for (var u = 0u; u < 4u; u = u + 1u) {
                let kk = k0 + 4u * h + u;
                let j = j0 + kk;
                if (j < j_end && j <= seen && m != neg_inf) {
                    e[u] = exp(s[row * KC + kk] * p.scale - m);
                }
            }
            sum = sum + (e.x + e.y) + (e.z + e.w);
            stage4(2u, row * SP + k0 + 4u * h, e);
        }
        stage_chunk(li, values, true);
        workgroupBarrier();
        for (var kk = 0u; kk < KC; kk = kk + 16u) {
            let ah = coopLoadT<coop_mat16x16<f16, A>>(&ph[(rq * SP + kk) / 4u], SP / 4u);
            let al = coopLoadT<coop_mat16x16<f16, A>>(&pl[(rq * SP + kk) / 4u], SP / 4u);
            // B[key][dim]: the staged values, row-major (zeros past dv: so are those tiles' sums;
            // naga wants cooperative loads in workgroup-uniform control flow, so no subgroup
            // skips its tiles)
            var bh = coopLoadT<coop_mat16x16<f16, B>>(&kh[(kk * SD + d0) / 4u], SD / 4u);
            var bl = coopLoadT<coop_mat16x16<f16, B>>(&kl[(kk * SD + d0) / 4u], SD / 4u);
            oh0 = coopMultiplyAdd(ah, bh, oh0);
            ol0 = coopMultiplyAdd(al, bh, coopMultiplyAdd(ah, bl, ol0));
            bh = coopLoadT<coop_mat16x16<f16, B>>(&kh[(kk * SD + d0 + 16u) / 4u], SD / 4u);
            bl = coopLoadT<coop_mat16x16<f16, B>>(&kl[(kk * SD + d0 + 16u) / 4u], SD / 4u);
            oh1 = coopMultiplyAdd(ah, bh, oh1);
            ol1 = coopMultiplyAdd(al, bh, coopMultiplyAdd(ah, bl, ol1));
            bh = coopLoadT<coop_mat16x16<f16, B>>(&kh[(kk * SD + d0 + 32u) / 4u], SD / 4u);
            bl = coopLoadT<coop_mat16x16<f16, B>>(&kl[(kk * SD + d0 + 32u) / 4u], SD / 4u);
            oh2 = coopMultiplyAdd(ah, bh, oh2);
            ol2 = coopMultiplyAdd(al, bh, coopMultiplyAdd(ah, bl, ol2));
            bh = coopLoadT<coop_mat16x16<f16, B>>(&kh[(kk * SD + d0 + 48u) / 4u], SD / 4u);
            bl = coopLoadT<coop_mat16x16<f16, B>>(&kl[(kk * SD + d0 + 48u) / 4u], SD / 4u);
            oh3 = coopMultiplyAdd(ah, bh, oh3);
            ol3 = coopMultiplyAdd(al, bh, coopMultiplyAdd(ah, bl, ol3));
        }
        workgroupBarrier();
    }
    sum = sum + subgroupShuffleXor(sum, 1u);
    sum = sum + subgroupShuffleXor(sum, 2u);
    if (li % 4u == 0u) {
        row_sum[row] = sum;
    }

    // O / row sum, one 16 x 16 tile of each subgroup at a time through `s`
    for (var n = 0u; n < 4u; n = n + 1u) {
        let dn = d0 + 16u * n;
        var o = oh0 + ol0 * (1.0 / LO);
        switch n {
            case 1u: {
                o = oh1 + ol1 * (1.0 / LO);
            }
            case 2u: {
                o = oh2 + ol2 * (1.0 / LO);
            }
            case 3u: {
                o = oh3 + ol3 * (1.0 / LO);
            }
            default: {}
        }
        // every subgroup stores (tiles past dv are zeros and not written out)
        coopStoreT(o, &s[256u * sg], 16u);
        workgroupBarrier();
        if (dn < p.dv) {
            // lane l: row l / 2 of the tile, eight dims from 8 (l % 2)
            let r = rq + lane / 2u;
            let t = t0 + r / g;
            if (r < tb * g && t < p.tokens) {
                let o = (t * p.heads + kvh * g + r % g) * p.dv + dn + 8u * (lane % 2u);
                for (var e = 0u; e < 8u; e = e + 1u) {
                    out[o + e] = s[256u * sg + 8u * lane + e] / row_sum[r];
                }
            }
        }
        workgroupBarrier();
    }
}
