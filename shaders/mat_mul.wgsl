// mat_mul: out[b, n0 + r] = Σ_i W[r, i] x[b, i] (+ a[b, n0 + r] with `add`), tiled for many rows
// of x (prefill).
// A workgroup of 16 x 16 invocations computes a tile of TM weight rows by TN rows of x, each
// invocation 4 x 4 of them (four vec4 accumulators); tiles of TK columns of W (dequantized once
// per tile) and x go through workgroup memory as vec4s. Dispatch: x = ceil(rows / TM),
// y = ceil(b / TN).
//@include bytes
//@include dtype

const TM: u32 = 64u;
const TN: u32 = 64u;
const TK: u32 = 16u;

struct Params {
    k: u32,
    rows: u32,
    out_stride: u32,
    n0: u32,
    b: u32,
    row_bytes: u32,
    add: u32,        // 1: add `a` (mul_mat_add's addend, shaped like out)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> a: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> ws: array<vec4<f32>, 256>; // [TK][TM / 4]: four weight rows per entry
var<workgroup> xs: array<vec4<f32>, 256>; // [TK][TN / 4]: four rows of x per entry

fn ld(i: u32) -> u32 {
    return w[i];
}

fn exact(v: vec4<f32>) -> vec4<f32> {
    return v;
}

// Four weights of row r from column c (zeros past the edges).
fn w4(r: u32, c: u32) -> vec4<f32> {
    if (r >= p.rows) {
        return vec4<f32>(0.0);
    }
    let rb = r * p.row_bytes;
    if (c + 4u <= p.k) {
        return dq4(rb, c);
    }
    var v = vec4<f32>(0.0);
    for (var e = 0u; c + e < p.k; e = e + 1u) {
        v[e] = dq1(rb, c + e);
    }
    return v;
}

fn x4(b: u32, c: u32) -> vec4<f32> {
    var v = vec4<f32>(0.0);
    if (b >= p.b) {
        return v;
    }
    let o = b * p.k + c;
    if (c + 4u <= p.k) {
        return vec4<f32>(x[o], x[o + 1u], x[o + 2u], x[o + 3u]);
    }
    for (var e = 0u; c + e < p.k; e = e + 1u) {
        v[e] = x[o + e];
    }
    return v;
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let r0 = wg.x * TM;
    let b0 = wg.y * TN;
    let tx = li % 16u; // weight rows r0 + 4 tx .. + 4
    let ty = li / 16u; // rows of x b0 + 4 ty .. + 4
    // what this invocation loads: four columns of one weight row and of one row of x
    let lr = li / 4u;
    let lc = (li % 4u) * 4u;
    // acc_i[j]: weight row 4 tx + i against x row 4 ty + j
    var acc0 = vec4<f32>(0.0);
    var acc1 = vec4<f32>(0.0);
    var acc2 = vec4<f32>(0.0);
    var acc3 = vec4<f32>(0.0);
    for (var k0 = 0u; k0 < p.k; k0 = k0 + TK) {
        let wv = w4(r0 + lr, k0 + lc);
        let xv = x4(b0 + lr, k0 + lc);
        // entry (kk, lr / 4) holds rows lr & ~3 .. + 4; this invocation fills component lr % 4
        let e = lr / 4u;
        let c = lr % 4u;
        ws[lc * 16u + e][c] = wv.x;
        ws[(lc + 1u) * 16u + e][c] = wv.y;
        ws[(lc + 2u) * 16u + e][c] = wv.z;
        ws[(lc + 3u) * 16u + e][c] = wv.w;
        xs[lc * 16u + e][c] = xv.x;
        xs[(lc + 1u) * 16u + e][c] = xv.y;
        xs[(lc + 2u) * 16u + e][c] = xv.z;
        xs[(lc + 3u) * 16u + e][c] = xv.w;
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk = kk + 1u) {
            let a = ws[kk * 16u + tx];
            let v = xs[kk * 16u + ty];
            acc0 = acc0 + a.x * v;
            acc1 = acc1 + a.y * v;
            acc2 = acc2 + a.z * v;
            acc3 = acc3 + a.w * v;
        }
        workgroupBarrier();
    }
    let r = r0 + 4u * tx;
    let b = b0 + 4u * ty;
    store(r, b, acc0);
    store(r + 1u, b, acc1);
    store(r + 2u, b, acc2);
    store(r + 3u, b, acc3);
}

// out[b + j, n0 + r] = v[j] for the rows of x that exist.
fn store(r: u32, b: u32, v: vec4<f32>) {
    if (r >= p.rows) {
        return;
    }
    let o = p.n0 + r;
    if (b < p.b) {
        put(b * p.out_stride + o, v.x);
    }
    if (b + 1u < p.b) {
        put((b + 1u) * p.out_stride + o, v.y);
    }
    if (b + 2u < p.b) {
        put((b + 2u) * p.out_stride + o, v.z);
    }
    if (b + 3u < p.b) {
        put((b + 3u) * p.out_stride + o, v.w);
    }
}

fn put(o: u32, v: f32) {
    if (p.add == 1u) {
        out[o] = v + a[o];
    } else {
        out[o] = v;
    }
}
