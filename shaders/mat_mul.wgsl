// mat_mul: out[b, n0 + r] = Σ_i W[r, i] x[b, i] (+ a[b, n0 + r] with `add`), tiled for many rows
// of x (prefill).
// A workgroup computes a tile of TM weight rows by TN rows of x (the loop is tile.wgsl's).
// Dispatch: x = ceil(rows / TM), y = ceil(b / TN).
//@include bytes
//@include dtype
//@include tile
//@include tile_weights

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

fn ld(i: u32) -> u32 {
    return w[i];
}

fn exact(v: vec4<f32>) -> vec4<f32> {
    return v;
}

// The byte offset of weight row r (r < p.rows), for the tile's w4 and w16.
fn row_at(r: u32) -> u32 {
    return r * p.row_bytes;
}

// Four values of tile row tb of x from column c (zeros past the edges).
fn x4(tb: u32, c: u32) -> vec4<f32> {
    let b = tile0.y + tb;
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

// Every workgroup has a tile.
fn tile_begin(li: u32, wg: vec3<u32>) -> bool {
    tile0 = vec2<u32>(wg.x * TM, wg.y * TN);
    return true;
}

// The rows of x of this tile that exist.
fn tile_rows() -> u32 {
    return min(TN, p.b - min(p.b, tile0.y));
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
