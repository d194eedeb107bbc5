// The tiled product loop of mat_mul and mat_mul_id on cooperative matrices (16 x 16 x 16, f16
// inputs, f32 accumulators: the tensor cores of NVIDIA GPUs), for devices whose subgroups are 32
// wide. Same contract as tile.wgsl: the kernel defines `w4`, `x4`, `store`, `p.k` and
// `fn tile_begin(li: u32, wg: vec3<u32>) -> bool` (sets `tile0`; false when the workgroup has
// nothing to multiply). kernels.rs puts `enable f16; enable wgpu_cooperative_matrix;` first.
//
// f32 accuracy from f16 inputs: every value v is staged as hi (v cut to f16's mantissa) and
// lo = f16((v - hi) * 2048), so v = hi + lo / 2048 to ~22 bits. A tile is Wh Xh + (Wh Xl + Wl Xh) / 2048, in two f32
// accumulators; the dropped Wl Xl is 2^-22 of the product. (f16 holds magnitudes up to 65504:
// weights and the activations that reach a product are far below it.)
//
// A workgroup of 256 invocations (8 subgroups) computes TM weight rows by TN rows of x: subgroup s
// the 16 weight rows 16 (s % 4) against the 32 rows of x 32 (s / 4), as two 16 x 16 tiles. Tiles
// of TK columns of W (dequantized once per tile) and of x are staged in workgroup memory as
// above, row-major with a padded stride; each invocation stages eight columns of one weight row
// and of one row of x, and loads the next tile's before the current one is multiplied. The
// results go through workgroup memory to the kernel's `store`.

const TM: u32 = 64u;
const TN: u32 = 64u;
const TK: u32 = 32u;
// row stride of the staged tiles, in f16s (16-byte multiple; the pad spreads rows over banks)
const SK: u32 = TK + 8u;
// the scale of the staged low parts
const LO: f32 = 2048.0;

var<workgroup> wh: array<f16, 2560>; // [TM][SK]
var<workgroup> wl: array<f16, 2560>;
var<workgroup> xh: array<f16, 2560>; // [TN][SK]
var<workgroup> xl: array<f16, 2560>;
var<workgroup> cs: array<f32, 4096>; // [TN][TM]: the tile's results, x row major

// the first weight row and row of x of this workgroup's tile
var<private> tile0: vec2<u32>;

@compute @workgroup_size(256)
fn main(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(subgroup_id) sg: u32,
) {
    if (tile_begin(li, wg)) {
        tile_products(li, sg);
        tile_store(li);
    }
}

// The hi parts of four values, as f32s: each value with its f32 mantissa cut to f16's ten bits,
// so that f16(hi) is exact and v - hi is exact in f32. (Done on the bits: a driver may fold
// f32(f16(v)) into v, which would make every lo part zero.)
fn hi4(v: vec4<f32>) -> vec4<f32> {
    return bitcast<vec4<f32>>(bitcast<vec4<u32>>(v) & vec4<u32>(0xFFFFE000u));
}

// The lo parts, scaled by LO, of four values whose hi parts are `h`.
fn lo4(v: vec4<f32>, h: vec4<f32>) -> vec4<f16> {
    return vec4<f16>((v - h) * LO);
}

// The products of the workgroup's tile, into `cs`.
fn tile_products(li: u32, sg: u32) {
    // what this invocation stages: columns lc .. lc + 8 of tile row lr
    let lr = li / 4u;
    let lc = (li % 4u) * 8u;
    let o = lr * SK + lc;
    // this subgroup's weight rows and rows of x, as offsets of the staged tiles
    let a0 = 16u * (sg % 4u) * SK;
    let b0 = 32u * (sg / 4u) * SK;
    let b1 = b0 + 16u * SK;
    var h0 = coop_mat16x16<f32, C>();
    var l0 = coop_mat16x16<f32, C>();
    var h1 = coop_mat16x16<f32, C>();
    var l1 = coop_mat16x16<f32, C>();
    var wa = w4(lr, lc);
    var wb = w4(lr, lc + 4u);
    var xa = x4(lr, lc);
    var xb = x4(lr, lc + 4u);
    for (var k0 = 0u; k0 < p.k; k0 = k0 + TK) {
        let wha = hi4(wa);
        let whb = hi4(wb);
        let xha = hi4(xa);
        let xhb = hi4(xb);
        let wla = lo4(wa, wha);
        let wlb = lo4(wb, whb);
        let xla = lo4(xa, xha);
        let xlb = lo4(xb, xhb);
        let wha16 = vec4<f16>(wha);
        let whb16 = vec4<f16>(whb);
        let xha16 = vec4<f16>(xha);
        let xhb16 = vec4<f16>(xhb);
        for (var q = 0u; q < 4u; q = q + 1u) {
            wh[o + q] = wha16[q];
            wh[o + 4u + q] = whb16[q];
            wl[o + q] = wla[q];
            wl[o + 4u + q] = wlb[q];
            xh[o + q] = xha16[q];
            xh[o + 4u + q] = xhb16[q];
            xl[o + q] = xla[q];
            xl[o + 4u + q] = xlb[q];
        }
        workgroupBarrier();
        let next = k0 + TK;
        if (next < p.k) {
            wa = w4(lr, next + lc);
            wb = w4(lr, next + lc + 4u);
            xa = x4(lr, next + lc);
            xb = x4(lr, next + lc + 4u);
        }
        for (var kk = 0u; kk < TK; kk = kk + 16u) {
            // A: weight rows by k, row-major; B: k by rows of x, which is x's rows column-major
            let ah = coopLoadT<coop_mat16x16<f16, A>>(&wh[a0 + kk], SK);
            let al = coopLoadT<coop_mat16x16<f16, A>>(&wl[a0 + kk], SK);
            let bh0 = coopLoad<coop_mat16x16<f16, B>>(&xh[b0 + kk], SK);
            let bl0 = coopLoad<coop_mat16x16<f16, B>>(&xl[b0 + kk], SK);
            let bh1 = coopLoad<coop_mat16x16<f16, B>>(&xh[b1 + kk], SK);
            let bl1 = coopLoad<coop_mat16x16<f16, B>>(&xl[b1 + kk], SK);
            h0 = coopMultiplyAdd(ah, bh0, h0);
            l0 = coopMultiplyAdd(ah, bl0, l0);
            l0 = coopMultiplyAdd(al, bh0, l0);
            h1 = coopMultiplyAdd(ah, bh1, h1);
            l1 = coopMultiplyAdd(ah, bl1, l1);
            l1 = coopMultiplyAdd(al, bh1, l1);
        }
        workgroupBarrier();
    }
    // C[r][b] at cs[b * TM + r]: column-major with stride TM
    let c0 = 32u * (sg / 4u) * TM + 16u * (sg % 4u);
    coopStore(h0 + l0 * (1.0 / LO), &cs[c0], TM);
    coopStore(h1 + l1 * (1.0 / LO), &cs[c0 + 16u * TM], TM);
    workgroupBarrier();
}

// The products in `cs` through the kernel's `store`: each invocation four weight rows against
// four rows of x, as tile.wgsl's tile_store.
fn tile_store(li: u32) {
    let tr = 4u * (li % 16u);
    let tb = 4u * (li / 16u);
    for (var i = 0u; i < 4u; i = i + 1u) {
        let c = tb * TM + tr + i;
        let v = vec4<f32>(cs[c], cs[c + TM], cs[c + 2u * TM], cs[c + 3u * TM]);
        store(tile0.x + tr + i, tile0.y + tb, v);
    }
}
