// Weight reads of the tiled products (tile.wgsl, tile_coop.wgsl): tile rows from `tile0.x`, rows
// at the kernel's `row_at`, zeros past the edges (`p.rows`, `p.k`).

// Four weights of tile row tr from column c.
fn w4(tr: u32, c: u32) -> vec4<f32> {
    let r = tile0.x + tr;
    if (r >= p.rows) {
        return vec4<f32>(0.0);
    }
    let rb = row_at(r);
    if (c + 4u <= p.k) {
        return dq4(rb, c);
    }
    var v = vec4<f32>(0.0);
    for (var e = 0u; c + e < p.k; e = e + 1u) {
        v[e] = dq1(rb, c + e);
    }
    return v;
}

// Sixteen weights of tile row tr from column c (c % 16 == 0): one dq16 (one scale decode, every
// load issued first) where all sixteen exist.
fn w16(tr: u32, c: u32) -> V16 {
    let r = tile0.x + tr;
    if (r < p.rows && c + 16u <= p.k) {
        return dq16(row_at(r), c);
    }
    return V16(w4(tr, c), w4(tr, c + 4u), w4(tr, c + 8u), w4(tr, c + 12u));
}
