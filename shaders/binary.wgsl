// Elementwise binary ops with numpy broadcasting: out[o] = f(a[ia], b[ib]). The shapes are
// collapsed to four dims on the host; an operand's stride is 0 along a dim it is broadcast on.
// OP (from the prelude) picks f: 0 add, 1 mul, 2 div, 3 swiglu (silu(a) * b).

struct Params {
    n: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    dims: vec4<u32>,      // output dims, outermost first
    a_strides: vec4<u32>,
    b_strides: vec4<u32>,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

fn f(u: f32, v: f32) -> f32 {
    switch OP {
        case 0u: {
            return u + v;
        }
        case 1u: {
            return u * v;
        }
        case 2u: {
            return u / v;
        }
        default: {
            return u / (1.0 + exp(-u)) * v;
        }
    }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let o = gid.x + gid.y * nwg.x * WG;
    if (o >= p.n) {
        return;
    }
    var rest = o;
    var ia = 0u;
    var ib = 0u;
    for (var d = 3; d >= 0; d = d - 1) {
        let idx = rest % p.dims[d];
        rest = rest / p.dims[d];
        ia = ia + idx * p.a_strides[d];
        ib = ib + idx * p.b_strides[d];
    }
    out[o] = f(a[ia], b[ib]);
}
