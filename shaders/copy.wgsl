// copy: a strided copy of 32-bit words, for slice (a [outer, len, inner] window of a
// [outer, src_len, inner] tensor) and kv_write (rows into the cache at an offset).
// out[dst + (o * len + j) * inner + i] = x[(o * src_len + start + j) * inner + i].

struct Params {
    n: u32,          // outer * len * inner
    len: u32,
    inner: u32,
    src_len: u32,
    start: u32,
    dst: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let q = gid.x + gid.y * nwg.x * WG;
    if (q >= p.n) {
        return;
    }
    let i = q % p.inner;
    let j = (q / p.inner) % p.len;
    let o = q / (p.inner * p.len);
    out[p.dst + q] = x[(o * p.src_len + p.start + j) * p.inner + i];
}
