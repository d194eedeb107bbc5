// Elementwise unary ops: out[i] = f(x[i]). OP (from the prelude) picks f:
// 0 scale (x * factor + bias), 1 silu (x * sigmoid(x)), 2 sigmoid.

struct Params {
    n: u32,
    factor: f32,
    bias: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn f(v: f32) -> f32 {
    switch OP {
        case 0u: {
            return v * p.factor + p.bias;
        }
        case 1u: {
            return v / (1.0 + exp(-v));
        }
        default: {
            return 1.0 / (1.0 + exp(-v));
        }
    }
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let i = gid.x + gid.y * nwg.x * WG;
    if (i < p.n) {
        out[i] = f(x[i]);
    }
}
