// The tiled product loop of mat_mul and mat_mul_id on cooperative matrices (16 x 16 x 16, f16
// inputs, f32 accumulators: the tensor cores of NVIDIA GPUs), for devices whose subgroups are 32
// wide. Same contract as tile.wgsl: the kernel defines `row_at`, `x4`, `store`, `p.k`,
// `fn tile_begin(li: u32, wg: vec3<u32>) -> bool` (sets `tile0`; false when the workgroup has
// nothing to multiply) and `fn tile_rows() -> u32` (the rows of x of the tile that exist).
// kernels.rs puts `enable f16; enable wgpu_cooperative_matrix;` first.
//
// f32 accuracy from f16 inputs: every value is staged as the hi and lo f16 parts of split16.wgsl
// (kernels.rs puts it first), and a tile is Wh Xh + (Wh Xl + Wl Xh) / LO in two f32 accumulators.
//
// A workgroup of 256 invocations (8 subgroups) computes TM = 128 weight rows by TN = 64 rows of x
// (twice tile.wgsl's weight rows: the staging of x, not arithmetic, bounds these kernels, so each
// staged row of x serves more weight rows): subgroup s the 16 weight rows 16 s against all 64
// rows of x, as four 16 x 16 tiles. Tiles of TK columns of W (dequantized once per tile) and of x
// are staged in workgroup memory as above, row-major with a padded stride; each invocation
// stages 16 columns of one weight row and eight of one row of x, and loads the next tile's
// before the current one is multiplied. The results go through workgroup memory to the kernel's
// `store`, half the weight rows at a time (all of them would not fit beside the staged tiles).

const TM: u32 = 128u;
const TN: u32 = 64u;
const TK: u32 = 32u;
// row stride of the staged tiles, in f16s (16-byte multiple; the pad spreads rows over banks)
const SK: u32 = TK + 8u;
// weight rows whose results `cs` holds at once
const HALF: u32 = 64u;

// staged parts as vec4s of f16 (one store per four values; cooperative loads and their strides
// count in vec4s), indexed by f16 offset / 4
var<workgroup> wh: array<vec4<f16>, 1280>; // [TM][SK / 4]
var<workgroup> wl: array<vec4<f16>, 1280>;
var<workgroup> xh: array<vec4<f16>, 640>; // [TN][SK / 4]
var<workgroup> xl: array<vec4<f16>, 640>;
var<workgroup> cs: array<f32, 4096>; // [TN][HALF]: results of half the weight rows, x row major

// the first weight row and row of x of this workgroup's tile
var<private> tile0: vec2<u32>;

// this subgroup's accumulators: hi products and scaled lo products against the four blocks of
// 16 rows of x
var<private> h0: coop_mat16x16<f32, C>;
var<private> h1: coop_mat16x16<f32, C>;
var<private> h2: coop_mat16x16<f32, C>;
var<private> h3: coop_mat16x16<f32, C>;
var<private> l0: coop_mat16x16<f32, C>;
var<private> l1: coop_mat16x16<f32, C>;
var<private> l2: coop_mat16x16<f32, C>;
var<private> l3: coop_mat16x16<f32, C>;

@compute @workgroup_size(256)
fn main(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(subgroup_id) sg: u32,
) {
    if (tile_begin(li, wg)) {
        tile_products(li, sg);
        for (var half = 0u; half < TM / HALF; half = half + 1u) {
            if (sg / 4u == half) {
                let c0 = 16u * (sg % 4u);
                coopStore(h0 + l0 * (1.0 / LO), &cs[c0], HALF);
                coopStore(h1 + l1 * (1.0 / LO), &cs[c0 + 16u * HALF], HALF);
                coopStore(h2 + l2 * (1.0 / LO), &cs[c0 + 32u * HALF], HALF);
                coopStore(h3 + l3 * (1.0 / LO), &cs[c0 + 48u * HALF], HALF);
            }
            workgroupBarrier();
            tile_store(li, half * HALF);
            workgroupBarrier();
        }
    }
}

// Stages four values at `o` of the weight tile (`w` true) or of the tile of x.
fn stage4(w: bool, o: u32, v: vec4<f32>) {
    let parts = split4(v);
    if (w) {
        wh[o / 4u] = parts.hi;
        wl[o / 4u] = parts.lo;
    } else {
        xh[o / 4u] = parts.hi;
        xl[o / 4u] = parts.lo;
    }
}

// One 16-deep step of the products of the first block of 16 rows of x: weight rows at `a` of
// the staged weights, x from column kk.
fn step16(a: u32, kk: u32) {
    let ah = coopLoadT<coop_mat16x16<f16, A>>(&wh[(a + kk) / 4u], SK / 4u);
    let al = coopLoadT<coop_mat16x16<f16, A>>(&wl[(a + kk) / 4u], SK / 4u);
    // B: k by rows of x, which is the staged rows of x column-major
    let bh = coopLoad<coop_mat16x16<f16, B>>(&xh[kk / 4u], SK / 4u);
    let bl = coopLoad<coop_mat16x16<f16, B>>(&xl[kk / 4u], SK / 4u);
    h0 = coopMultiplyAdd(ah, bh, h0);
    l0 = coopMultiplyAdd(al, bh, coopMultiplyAdd(ah, bl, l0));
}

// The same step for the second, third and fourth blocks of 16 rows of x (each called only
// where its rows exist).
fn step16_1(a: u32, kk: u32) {
    let ah = coopLoadT<coop_mat16x16<f16, A>>(&wh[(a + kk) / 4u], SK / 4u);
    let al = coopLoadT<coop_mat16x16<f16, A>>(&wl[(a + kk) / 4u], SK / 4u);
    let bh = coopLoad<coop_mat16x16<f16, B>>(&xh[(16u * SK + kk) / 4u], SK / 4u);
    let bl = coopLoad<coop_mat16x16<f16, B>>(&xl[(16u * SK + kk) / 4u], SK / 4u);
    h1 = coopMultiplyAdd(ah, bh, h1);
    l1 = coopMultiplyAdd(al, bh, coopMultiplyAdd(ah, bl, l1));
}

fn step16_2(a: u32, kk: u32) {
    let ah = coopLoadT<coop_mat16x16<f16, A>>(&wh[(a + kk) / 4u], SK / 4u);
    let al = coopLoadT<coop_mat16x16<f16, A>>(&wl[(a + kk) / 4u], SK / 4u);
    let bh = coopLoad<coop_mat16x16<f16, B>>(&xh[(32u * SK + kk) / 4u], SK / 4u);
    let bl = coopLoad<coop_mat16x16<f16, B>>(&xl[(32u * SK + kk) / 4u], SK / 4u);
    h2 = coopMultiplyAdd(ah, bh, h2);
    l2 = coopMultiplyAdd(al, bh, coopMultiplyAdd(ah, bl, l2));
}

fn step16_3(a: u32, kk: u32) {
    let ah = coopLoadT<coop_mat16x16<f16, A>>(&wh[(a + kk) / 4u], SK / 4u);
    let al = coopLoadT<coop_mat16x16<f16, A>>(&wl[(a + kk) / 4u], SK / 4u);
    let bh = coopLoad<coop_mat16x16<f16, B>>(&xh[(48u * SK + kk) / 4u], SK / 4u);
    let bl = coopLoad<coop_mat16x16<f16, B>>(&xl[(48u * SK + kk) / 4u], SK / 4u);
    h3 = coopMultiplyAdd(ah, bh, h3);
    l3 = coopMultiplyAdd(al, bh, coopMultiplyAdd(ah, bl, l3));
}

// The products of the workgroup's tile, into this subgroup's accumulators.
fn tile_products(li: u32, sg: u32) {
    // what this invocation stages: columns wc .. wc + 16 of weight row wr, xc .. xc + 8 of x row xr
    let wr = li / 2u;
    let wc = (li % 2u) * 16u;
    let xr = li / 4u;
    let xc = (li % 4u) * 8u;
    let a = 16u * sg * SK;
    // the blocks of 16 rows of x that exist: those past them are skipped (the last tile of an
    // expert's pairs in mat_mul_id is often partly empty); a uniform value, as the branches on
    // it around cooperative operations must be
    // (handed over through cs[0], which holds results only after the products: a workgroup
    // variable of its own made the NVIDIA driver's results wrong, see BENCHMARKS.md)
    if (li == 0u) {
        cs[0] = bitcast<f32>((tile_rows() + 15u) / 16u);
    }
    let nb = bitcast<u32>(workgroupUniformLoad(&cs[0]));
    h0 = coop_mat16x16<f32, C>();
    h1 = coop_mat16x16<f32, C>();
    h2 = coop_mat16x16<f32, C>();
    h3 = coop_mat16x16<f32, C>();
    l0 = coop_mat16x16<f32, C>();
    l1 = coop_mat16x16<f32, C>();
    l2 = coop_mat16x16<f32, C>();
    l3 = coop_mat16x16<f32, C>();
    var wv = w16(wr, wc);
    var x0 = x4(xr, xc);
    var x1 = x4(xr, xc + 4u);
    for (var k0 = 0u; k0 < p.k; k0 = k0 + TK) {
        stage4(true, wr * SK + wc, wv.a);
        stage4(true, wr * SK + wc + 4u, wv.b);
        stage4(true, wr * SK + wc + 8u, wv.c);
        stage4(true, wr * SK + wc + 12u, wv.d);
        stage4(false, xr * SK + xc, x0);
        stage4(false, xr * SK + xc + 4u, x1);
        workgroupBarrier();
        let next = k0 + TK;
        if (next < p.k) {
            wv = w16(wr, next + wc);
            x0 = x4(xr, next + xc);
            x1 = x4(xr, next + xc + 4u);
        }
        step16(a, 0u);
        step16(a, 16u);
        if (nb > 1u) {
            step16_1(a, 0u);
            step16_1(a, 16u);
        }
        if (nb > 2u) {
            step16_2(a, 0u);
            step16_2(a, 16u);
        }
        if (nb > 3u) {
            step16_3(a, 0u);
            step16_3(a, 16u);
        }
        workgroupBarrier();
    }
}

// Results of weight rows r0 .. r0 + HALF from `cs` through the kernel's `store`: each invocation
// four weight rows against four rows of x, as tile.wgsl's tile_store.
fn tile_store(li: u32, r0: u32) {
    let tr = 4u * (li % 16u);
    let tb = 4u * (li / 16u);
    for (var i = 0u; i < 4u; i = i + 1u) {
        let c = tb * HALF + tr + i;
        let v = vec4<f32>(cs[c], cs[c + HALF], cs[c + 2u * HALF], cs[c + 3u * HALF]);
        store(tile0.x + r0 + tr + i, tile0.y + tb, v);
    }
}
