//! Op parity, elementwise and data-movement ops: add, mul, div, swiglu (broadcasting, weight
//! operands), scale, silu, sigmoid, soft_max, rms_norm, rms_norm_mul (fused and not), rope
//! (full and partial), sum, gather, reshape, slice; batch sizes 1 to 9 and odd row lengths.

mod common;
mod parity;

use lingot_ir::{shape, DType, Graph, Op, Sym};
use parity::*;

fn binary_cases(s: &mut Suite) {
    let ops = [
        ("add", Op::Add),
        ("mul", Op::Mul),
        ("div", Op::Div),
        ("swiglu", Op::SwiGlu),
    ];
    for (name, op) in ops {
        for t in [1, 3, 9] {
            // [t, 13] op [13] (a weight, f32 and f16)
            for dtype in [DType::F32, DType::F16] {
                let mut g = Graph::new();
                let x = f32_input(&mut g, "x", shape![Sym::T, 13]);
                let w = s.weight(&mut g, dtype, &[13]);
                let y = push(&mut g, op.clone(), &[x, w]);
                g.output(y, "y");
                let xs = s.f32s(t * 13, 0.5, 1.5);
                s.case(
                    format!("{name} [{t},13] x {dtype}[13]"),
                    g,
                    vec![("x".into(), host_f32(&[t, 13], xs))],
                    bind(t),
                    ARITH,
                );
            }
            // [t, 3, 5] op [t, 1, 5]
            let mut g = Graph::new();
            let a = f32_input(&mut g, "a", shape![Sym::T, 3, 5]);
            let b = f32_input(&mut g, "b", shape![Sym::T, 1, 5]);
            let y = push(&mut g, op.clone(), &[a, b]);
            g.output(y, "y");
            let (av, bv) = (s.f32s(t * 15, -2.0, 2.0), s.f32s(t * 5, 0.5, 1.5));
            let inputs = vec![
                ("a".into(), host_f32(&[t, 3, 5], av)),
                ("b".into(), host_f32(&[t, 1, 5], bv)),
            ];
            s.case(format!("{name} [{t},3,5] x [{t},1,5]"), g, inputs, bind(t), ARITH);
        }
        // [2, 1, 4] op [3, 1]: both operands broadcast
        let mut g = Graph::new();
        let a = f32_input(&mut g, "a", shape![2, 1, 4]);
        let b = f32_input(&mut g, "b", shape![3, 1]);
        let y = push(&mut g, op.clone(), &[a, b]);
        g.output(y, "y");
        let (av, bv) = (s.f32s(8, -2.0, 2.0), s.f32s(3, 0.5, 1.5));
        s.case(
            format!("{name} [2,1,4] x [3,1]"),
            g,
            vec![
                ("a".into(), host_f32(&[2, 1, 4], av)),
                ("b".into(), host_f32(&[3, 1], bv)),
            ],
            bind(1),
            ARITH,
        );
    }
}

fn unary_cases(s: &mut Suite) {
    let ops = [
        (
            "scale",
            Op::Scale {
                factor: -1.75,
                bias: 0.25,
            },
            ARITH,
        ),
        ("silu", Op::Silu, TRANSCENDENTAL),
        ("sigmoid", Op::Sigmoid, TRANSCENDENTAL),
        ("soft_max", Op::SoftMax, TRANSCENDENTAL),
        ("rms_norm", Op::RmsNorm { eps: 1e-6 }, TRANSCENDENTAL),
    ];
    for (name, op, tol) in ops {
        for (t, n) in [(1, 37), (4, 130), (9, 67)] {
            let mut g = Graph::new();
            let x = f32_input(&mut g, "x", shape![Sym::T, 2, n]);
            let y = push(&mut g, op.clone(), &[x]);
            g.output(y, "y");
            let xs = s.f32s(t * 2 * n, -4.0, 4.0);
            s.case(
                format!("{name} [{t},2,{n}]"),
                g,
                vec![("x".into(), host_f32(&[t, 2, n], xs))],
                bind(t),
                tol,
            );
        }
    }
    // rms_norm_mul: a weight along the last axis (fused kernel) and a full-shape one (norm, then mul)
    for t in [1, 5] {
        let mut g = Graph::new();
        let x = f32_input(&mut g, "x", shape![Sym::T, 129]);
        let w = s.weight(&mut g, DType::F32, &[129]);
        let y = push(&mut g, Op::RmsNormMul { eps: 1e-5 }, &[x, w]);
        g.output(y, "y");
        let xs = s.f32s(t * 129, -3.0, 3.0);
        s.case(
            format!("rms_norm_mul [{t},129] x [129]"),
            g,
            vec![("x".into(), host_f32(&[t, 129], xs))],
            bind(t),
            TRANSCENDENTAL,
        );

        let mut g = Graph::new();
        let x = f32_input(&mut g, "x", shape![Sym::T, 3, 20]);
        let w = f32_input(&mut g, "w", shape![3, 1]);
        let y = push(&mut g, Op::RmsNormMul { eps: 1e-5 }, &[x, w]);
        g.output(y, "y");
        let (xs, ws) = (s.f32s(t * 60, -3.0, 3.0), s.f32s(3, -2.0, 2.0));
        let inputs = vec![
            ("x".into(), host_f32(&[t, 3, 20], xs)),
            ("w".into(), host_f32(&[3, 1], ws)),
        ];
        s.case(
            format!("rms_norm_mul [{t},3,20] x [3,1]"),
            g,
            inputs,
            bind(t),
            TRANSCENDENTAL,
        );
    }
}

fn rope_cases(s: &mut Suite) {
    for (n_rot, freq_scale) in [(16, 1.0), (8, 0.5)] {
        for (t, start) in [(1, 300), (6, 0), (9, 41)] {
            let mut g = Graph::new();
            let x = f32_input(&mut g, "x", shape![Sym::T, 3, 16]);
            let p = i32_input(&mut g, "pos", shape![Sym::T]);
            let y = push(
                &mut g,
                Op::Rope {
                    n_rot,
                    freq_base: 10000.0,
                    freq_scale,
                },
                &[x, p],
            );
            g.output(y, "y");
            let xs = s.f32s(t * 48, -2.0, 2.0);
            let pos: Vec<i32> = (start..start + t as i32).collect();
            let inputs = vec![
                ("x".into(), host_f32(&[t, 3, 16], xs)),
                ("pos".into(), host_i32(&[t], pos)),
            ];
            s.case(
                format!("rope n_rot {n_rot} scale {freq_scale} t {t} from {start}"),
                g,
                inputs,
                bind(t),
                TRANSCENDENTAL,
            );
        }
    }
}

fn movement_cases(s: &mut Suite) {
    for t in [1, 7] {
        for axis in 0..3 {
            let mut g = Graph::new();
            let x = f32_input(&mut g, "x", shape![Sym::T, 4, 5]);
            let y = push(&mut g, Op::Sum { axis }, &[x]);
            g.output(y, "y");
            let xs = s.f32s(t * 20, -1.0, 1.0);
            s.case(
                format!("sum axis {axis} of [{t},4,5]"),
                g,
                vec![("x".into(), host_f32(&[t, 4, 5], xs))],
                bind(t),
                ARITH,
            );
        }
        // gather
        let mut g = Graph::new();
        let x = f32_input(&mut g, "x", shape![Sym::T, 10]);
        let i = i32_input(&mut g, "i", shape![Sym::T, 3]);
        let y = push(&mut g, Op::Gather, &[x, i]);
        g.output(y, "y");
        let xs = s.f32s(t * 10, -1.0, 1.0);
        let idx: Vec<i32> = (0..t * 3).map(|j| ((j * 7 + 3) % 10) as i32).collect();
        s.case(
            format!("gather [{t},10] by [{t},3]"),
            g,
            vec![
                ("x".into(), host_f32(&[t, 10], xs)),
                ("i".into(), host_i32(&[t, 3], idx)),
            ],
            bind(t),
            EXACT,
        );
        // reshape (an alias, also as a direct output) and slices on each axis
        let mut g = Graph::new();
        let x = f32_input(&mut g, "x", shape![Sym::T, 6, 8]);
        let r = push(
            &mut g,
            Op::Reshape {
                shape: shape![Sym::T, 3, 16],
            },
            &[x],
        );
        let a = push(
            &mut g,
            Op::Slice {
                axis: 1,
                start: 1,
                len: 2,
            },
            &[r],
        );
        let b = push(
            &mut g,
            Op::Slice {
                axis: 2,
                start: 5,
                len: 7,
            },
            &[r],
        );
        let c = push(
            &mut g,
            Op::Slice {
                axis: 2,
                start: 0,
                len: 1,
            },
            &[x],
        );
        g.output(r, "reshaped");
        g.output(a, "a");
        g.output(b, "b");
        g.output(c, "c");
        let xs = s.f32s(t * 48, -1.0, 1.0);
        s.case(
            format!("reshape and slices of [{t},6,8]"),
            g,
            vec![("x".into(), host_f32(&[t, 6, 8], xs))],
            bind(t),
            EXACT,
        );
    }
    // slice of an i32 tensor (indices move as words)
    let mut g = Graph::new();
    let x = f32_input(&mut g, "x", shape![Sym::T, 12]);
    let k = push(&mut g, Op::TopK { k: 5 }, &[x]);
    let y = push(
        &mut g,
        Op::Slice {
            axis: 1,
            start: 1,
            len: 3,
        },
        &[k],
    );
    g.output(y, "y");
    let xs = s.f32s(3 * 12, -1.0, 1.0);
    s.case(
        "slice of i32 [3,5]",
        g,
        vec![("x".into(), host_f32(&[3, 12], xs))],
        bind(3),
        EXACT,
    );
}

fn suite(seed: u64) -> Suite {
    let mut s = Suite::new(seed);
    binary_cases(&mut s);
    unary_cases(&mut s);
    rope_cases(&mut s);
    movement_cases(&mut s);
    s
}

#[test]
fn elementwise_ops_match_cpu() {
    let names = run(&suite(11), common::default_options(16));
    for op in [
        "add",
        "mul",
        "div",
        "swiglu",
        "scale",
        "silu",
        "sigmoid",
        "soft_max",
        "rms_norm ",
        "rms_norm_mul",
        "rope",
        "sum",
        "gather",
        "reshape",
        "slice",
    ] {
        assert!(names.iter().any(|n| n.starts_with(op)), "no case for {op}");
    }
}

#[test]
fn elementwise_ops_match_cpu_without_subgroups() {
    run(&suite(12), common::portable(16));
}
