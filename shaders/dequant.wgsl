// dequant: rows of a weight in its stored dtype -> f32, exactly as ggml's dequantize_row_*.
// Used to turn weights that feed elementwise ops into f32 once at load, and by the dequant
// parity test. One invocation per four elements of a row.
//@include bytes
//@include dtype

struct Params {
    rows: u32,
    k: u32,          // elements per row
    row_bytes: u32,
    zero: u32,       // always 0: makes `exact` opaque to the compiler
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn ld(i: u32) -> u32 {
    return w[i];
}

// ggml rounds these products before adding; an opaque OR with zero keeps the compiler from
// contracting product and sum into one fma (which rounds once, and differs).
fn exact(v: vec4<f32>) -> vec4<f32> {
    return bitcast<vec4<f32>>(bitcast<vec4<u32>>(v) | vec4<u32>(p.zero));
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let per_row = (p.k + 3u) / 4u;
    let id = gid.x + gid.y * nwg.x * WG;
    if (id >= p.rows * per_row) {
        return;
    }
    let row = id / per_row;
    let i = (id % per_row) * 4u;
    let rb = row * p.row_bytes;
    let o = row * p.k + i;
    if (i + 4u <= p.k) {
        let v = dq4(rb, i);
        out[o] = v.x;
        out[o + 1u] = v.y;
        out[o + 2u] = v.z;
        out[o + 3u] = v.w;
    } else {
        for (var e = 0u; i + e < p.k; e = e + 1u) {
            out[o + e] = dq1(rb, i + e);
        }
    }
}
