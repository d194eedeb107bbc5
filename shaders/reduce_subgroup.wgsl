// Workgroup reductions with subgroup operations: one subgroupAdd / subgroupMax per subgroup, then
// the per-subgroup partials through workgroup memory, summed in a fixed order (deterministic).
// Same interface as reduce_shared.wgsl. Subgroups are taken to be consecutive runs of
// local_invocation_index of length subgroup_size, as on every Vulkan, Metal and D3D12 driver for
// one-dimensional workgroups.

struct Lane {
    @builtin(local_invocation_index) index: u32,
    @builtin(subgroup_invocation_id) sg_lane: u32,
    @builtin(subgroup_size) sg_size: u32,
}

var<workgroup> red: array<f32, WG>;

fn wg_sum(v: f32, lane: Lane) -> f32 {
    let s = subgroupAdd(v);
    if (lane.sg_lane == 0u) {
        red[lane.index / lane.sg_size] = s;
    }
    workgroupBarrier();
    var total = red[0];
    for (var i = 1u; i * lane.sg_size < WG; i = i + 1u) {
        total = total + red[i];
    }
    workgroupBarrier();
    return total;
}

fn wg_max(v: f32, lane: Lane) -> f32 {
    let s = subgroupMax(v);
    if (lane.sg_lane == 0u) {
        red[lane.index / lane.sg_size] = s;
    }
    workgroupBarrier();
    var m = red[0];
    for (var i = 1u; i * lane.sg_size < WG; i = i + 1u) {
        m = max(m, red[i]);
    }
    workgroupBarrier();
    return m;
}

// Four sums at once (mat-vec kernels reduce several rows together): one barrier pair for all.
var<workgroup> red4: array<vec4<f32>, WG>;

fn wg_sum4(v: vec4<f32>, lane: Lane) -> vec4<f32> {
    let s = subgroupAdd(v);
    if (lane.sg_lane == 0u) {
        red4[lane.index / lane.sg_size] = s;
    }
    workgroupBarrier();
    var total = red4[0];
    for (var i = 1u; i * lane.sg_size < WG; i = i + 1u) {
        total = total + red4[i];
    }
    workgroupBarrier();
    return total;
}
