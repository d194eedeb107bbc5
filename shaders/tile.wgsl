// The tiled product loop of mat_mul and mat_mul_id, which read weights through
// tile_weights.wgsl. The kernel defines `fn row_at(r: u32) -> u32` (the byte offset of weight
// row r), `fn x4(b: u32, c: u32) -> vec4<f32>` (four values of tile row b of x, zero past the
// edges), `fn store(r: u32, b: u32, v: vec4<f32>)` (weight row r against rows b .. b + 4 of x),
// `p.k`, the inner size, and `fn tile_begin(li: u32, wg: vec3<u32>) -> bool`, which sets `tile0`
// and says whether the workgroup has products to compute. The entry point is here (tile_coop.wgsl,
// the cooperative-matrix form, has the same contract).
// A workgroup of 256 invocations computes TM weight rows by TN rows of x, each invocation 4 x 4 of
// them (four vec4 accumulators). Tiles of TK columns of W (dequantized once per tile) and of x go
// through workgroup memory as vec4s; each invocation loads eight columns of one weight row and of
// one row of x, and loads the next tile's before it multiplies the current one, so that global
// memory latency overlaps the products.

const TM: u32 = 64u;
const TN: u32 = 64u;
const TK: u32 = 32u;

var<workgroup> ws: array<vec4<f32>, 512>; // [TK][TM / 4]: four weight rows per entry
var<workgroup> xs: array<vec4<f32>, 512>; // [TK][TN / 4]: four rows of x per entry

// the first weight row and row of x of this workgroup's tile
var<private> tile0: vec2<u32>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    if (tile_begin(li, wg)) {
        tile_store(li, tile_products(li));
    }
}

// acc_i[j]: weight row 4 tx + i against x row 4 ty + j, tx = li % 16, ty = li / 16.
struct Acc {
    a0: vec4<f32>,
    a1: vec4<f32>,
    a2: vec4<f32>,
    a3: vec4<f32>,
}

fn tile_products(li: u32) -> Acc {
    let tx = li % 16u;
    let ty = li / 16u;
    // what this invocation loads: columns lc .. lc + 8 of tile row lr, into component lr % 4 of
    // entries (kk, lr / 4)
    let lr = li / 4u;
    let lc = (li % 4u) * 8u;
    let e = lr / 4u;
    let c = lr % 4u;
    var acc = Acc(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    var wa = w4(lr, lc);
    var wb = w4(lr, lc + 4u);
    var xa = x4(lr, lc);
    var xb = x4(lr, lc + 4u);
    for (var k0 = 0u; k0 < p.k; k0 = k0 + TK) {
        let o = lc * 16u + e;
        for (var q = 0u; q < 4u; q = q + 1u) {
            ws[o + 16u * q][c] = wa[q];
            ws[o + 64u + 16u * q][c] = wb[q];
            xs[o + 16u * q][c] = xa[q];
            xs[o + 64u + 16u * q][c] = xb[q];
        }
        workgroupBarrier();
        let next = k0 + TK;
        if (next < p.k) {
            wa = w4(lr, next + lc);
            wb = w4(lr, next + lc + 4u);
            xa = x4(lr, next + lc);
            xb = x4(lr, next + lc + 4u);
        }
        for (var kk = 0u; kk < TK; kk = kk + 1u) {
            let a = ws[kk * 16u + tx];
            let v = xs[kk * 16u + ty];
            acc.a0 = acc.a0 + a.x * v;
            acc.a1 = acc.a1 + a.y * v;
            acc.a2 = acc.a2 + a.z * v;
            acc.a3 = acc.a3 + a.w * v;
        }
        workgroupBarrier();
    }
    return acc;
}

// The products of tile_products through the kernel's `store`.
fn tile_store(li: u32, acc: Acc) {
    let r = tile0.x + 4u * (li % 16u);
    let b = tile0.y + 4u * (li / 16u);
    store(r, b, acc.a0);
    store(r + 1u, b, acc.a1);
    store(r + 2u, b, acc.a2);
    store(r + 3u, b, acc.a3);
}
