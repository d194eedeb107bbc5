// group_mask: per row (token), the E scores form `groups` groups of E / groups; a group's score is
// the sum of its two largest scores; the `keep` best groups stay (ties: lower group first), the
// others become -inf. One workgroup per row.
//@include groups

struct Params {
    rows: u32,
    e: u32,
    groups: u32,
    keep: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn score_at(i: u32, row: u32) -> f32 {
    return x[row * p.e + i];
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let row = wg.x + wg.y * nwg.x;
    if (row >= p.rows) {
        return;
    }
    select_groups(row, p.e, p.groups, p.keep, li);
    let gs = p.e / p.groups;
    let o = row * p.e;
    for (var i = li; i < p.e; i = i + WG) {
        if (group_kept[i / gs] == 1u) {
            out[o + i] = x[o + i];
        } else {
            out[o + i] = bitcast<f32>(0xFF800000u);
        }
    }
}
