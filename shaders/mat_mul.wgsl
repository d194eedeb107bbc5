// mat_mul: out[b, n0 + r] = Σ_i W[r, i] x[b, i], tiled for many rows of x (prefill).
// A workgroup of 16 x 16 invocations computes a tile of TM weight rows by TN rows of x, each
// invocation 4 x 4 of them; tiles of TK columns of W (dequantized) and x go through workgroup
// memory. Dispatch: x = ceil(rows / TM), y = ceil(b / TN).
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
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> ws: array<f32, 1024>; // [TK][TM]
var<workgroup> xs: array<f32, 1024>; // [TK][TN]

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
    if (b < p.b) {
        for (var e = 0u; e < 4u && c + e < p.k; e = e + 1u) {
            v[e] = x[b * p.k + c + e];
        }
    }
    return v;
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let r0 = wg.x * TM;
    let b0 = wg.y * TN;
    let tx = li % 16u; // rows r0 + 4 tx ..
    let ty = li / 16u; // x rows b0 + 4 ty ..
    let lr = li / 4u;  // tile row this invocation loads
    let lc = (li % 4u) * 4u;
    var acc: array<f32, 16>;
    for (var k0 = 0u; k0 < p.k; k0 = k0 + TK) {
        let wv = w4(r0 + lr, k0 + lc);
        let xv = x4(b0 + lr, k0 + lc);
        for (var e = 0u; e < 4u; e = e + 1u) {
            ws[(lc + e) * TM + lr] = wv[e];
            xs[(lc + e) * TN + lr] = xv[e];
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk = kk + 1u) {
            let a = vec4<f32>(ws[kk * TM + 4u * tx], ws[kk * TM + 4u * tx + 1u], ws[kk * TM + 4u * tx + 2u], ws[kk * TM + 4u * tx + 3u]);
            let c = vec4<f32>(xs[kk * TN + 4u * ty], xs[kk * TN + 4u * ty + 1u], xs[kk * TN + 4u * ty + 2u], xs[kk * TN + 4u * ty + 3u]);
            for (var i = 0u; i < 4u; i = i + 1u) {
                for (var j = 0u; j < 4u; j = j + 1u) {
                    acc[i * 4u + j] = acc[i * 4u + j] + a[i] * c[j];
                }
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < 4u; i = i + 1u) {
        for (var j = 0u; j < 4u; j = j + 1u) {
            let r = r0 + 4u * tx + i;
            let b = b0 + 4u * ty + j;
            if (r < p.rows && b < p.b) {
                out[b * p.out_stride + p.n0 + r] = acc[i * 4u + j];
            }
        }
    }
}
