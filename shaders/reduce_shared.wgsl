// Workgroup reductions through workgroup memory (a tree), for devices without subgroups.
// Same interface as reduce_subgroup.wgsl: a `Lane` entry-point argument and wg_sum / wg_max,
// which every invocation of the workgroup must call (uniform control flow) and which return
// the result to all of them. Needs `const WG: u32` (a power of two), the workgroup size.

struct Lane {
    @builtin(local_invocation_index) index: u32,
}

var<workgroup> red: array<f32, WG>;

fn wg_sum(v: f32, lane: Lane) -> f32 {
    red[lane.index] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (lane.index < s) {
            red[lane.index] = red[lane.index] + red[lane.index + s];
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

fn wg_max(v: f32, lane: Lane) -> f32 {
    red[lane.index] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (lane.index < s) {
            red[lane.index] = max(red[lane.index], red[lane.index + s]);
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

// Four sums at once (mat-vec kernels reduce several rows together): one tree for all.
var<workgroup> red4: array<vec4<f32>, WG>;

fn wg_sum4(v: vec4<f32>, lane: Lane) -> vec4<f32> {
    red4[lane.index] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (lane.index < s) {
            red4[lane.index] = red4[lane.index] + red4[lane.index + s];
        }
        workgroupBarrier();
    }
    let r = red4[0];
    workgroupBarrier();
    return r;
}
