// get_rows: out[j, :] = dequantized row ids[j] of a table in its stored dtype.
// A table split over several buffers is gathered with one dispatch per chunk: each covers table
// rows [lo, hi) and leaves the other ids alone; the first chunk writes zeros for ids outside the
// table. One workgroup per id, invocations over groups of four elements.
//@include bytes
//@include dtype

struct Params {
    n_ids: u32,
    k: u32,          // elements per row
    row_bytes: u32,
    lo: u32,         // first table row in this chunk
    hi: u32,         // one past its last
    rows: u32,       // rows of the whole table
    first: u32,      // 1 for the chunk that handles out-of-range ids
    zero: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<i32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn ld(i: u32) -> u32 {
    return w[i];
}

fn exact(v: vec4<f32>) -> vec4<f32> {
    return bitcast<vec4<f32>>(bitcast<vec4<u32>>(v) | vec4<u32>(p.zero));
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let j = wg.x + wg.y * nwg.x;
    if (j >= p.n_ids) {
        return;
    }
    let id = ids[j];
    let o = j * p.k;
    if (id < 0 || u32(id) >= p.rows) {
        if (p.first == 1u) {
            for (var i = li; i < p.k; i = i + WG) {
                out[o + i] = 0.0;
            }
        }
        return;
    }
    let row = u32(id);
    if (row < p.lo || row >= p.hi) {
        return;
    }
    let rb = (row - p.lo) * p.row_bytes;
    for (var i = li * 4u; i < p.k; i = i + WG * 4u) {
        if (i + 4u <= p.k) {
            let v = dq4(rb, i);
            out[o + i] = v.x;
            out[o + i + 1u] = v.y;
            out[o + i + 2u] = v.z;
            out[o + i + 3u] = v.w;
        } else {
            for (var e = 0u; i + e < p.k; e = e + 1u) {
                out[o + i + e] = dq1(rb, i + e);
            }
        }
    }
}
