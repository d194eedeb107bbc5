//! Op parity, routing ops: argsort (both orders), top_k, group_mask and the fused moe_router,
//! whose indices must equal the CPU's exactly; and moe_router with its logits' product (and the
//! norm before it) in one launch (decode). Inputs have no near ties: values are distinct
//! multiples of 1/64 (so sums of two are exact and distinct) in a random order.

mod common;
mod parity;

use lingot_ir::{shape, DType, Graph, Op, Sym};
use parity::*;
use rand::seq::SliceRandom;

/// `rows` rows of `n` distinct values k/64 - n/128, shuffled per row.
fn distinct(s: &mut Suite, rows: usize, n: usize) -> Vec<f32> {
    let mut out = vec![];
    for _ in 0..rows {
        let mut r: Vec<f32> = (0..n).map(|k| k as f32 / 64.0 - n as f32 / 128.0).collect();
        r.shuffle(&mut s.rng);
        out.extend(r);
    }
    out
}

fn sort_cases(s: &mut Suite) {
    for t in [1, 4, 9] {
        for descending in [false, true] {
            let mut g = Graph::new();
            let x = f32_input(&mut g, "x", shape![Sym::T, 37]);
            let y = push(&mut g, Op::Argsort { descending }, &[x]);
            g.output(y, "y");
            let xs = distinct(s, t, 37);
            s.case(
                format!("argsort desc={descending} [{t},37]"),
                g,
                vec![("x".into(), host_f32(&[t, 37], xs))],
                bind(t),
                EXACT,
            );
        }
        for k in [1, 4, 8] {
            let mut g = Graph::new();
            let x = f32_input(&mut g, "x", shape![Sym::T, 67]);
            let y = push(&mut g, Op::TopK { k }, &[x]);
            g.output(y, "y");
            let xs = distinct(s, t, 67);
            s.case(
                format!("top_k {k} of [{t},67]"),
                g,
                vec![("x".into(), host_f32(&[t, 67], xs))],
                bind(t),
                EXACT,
            );
        }
    }
    // ties: equal values keep the lower index first
    let mut g = Graph::new();
    let x = f32_input(&mut g, "x", shape![Sym::T, 6]);
    let a = push(&mut g, Op::TopK { k: 4 }, &[x]);
    let b = push(&mut g, Op::Argsort { descending: false }, &[x]);
    g.output(a, "top_k");
    g.output(b, "argsort");
    let xs = vec![1.0, 2.0, 1.0, 2.0, 0.5, 1.0];
    s.case(
        "top_k and argsort ties",
        g,
        vec![("x".into(), host_f32(&[1, 6], xs))],
        bind(1),
        EXACT,
    );
}

fn group_cases(s: &mut Suite) {
    for (e, groups, keep) in [(32, 8, 3), (16, 4, 2), (12, 1, 1)] {
        for t in [1, 5] {
            let mut g = Graph::new();
            let x = f32_input(&mut g, "x", shape![Sym::T, e]);
            let y = push(&mut g, Op::GroupMask { groups, keep }, &[x]);
            g.output(y, "y");
            let xs = distinct(s, t, e);
            s.case(
                format!("group_mask {groups}/{keep} of [{t},{e}]"),
                g,
                vec![("x".into(), host_f32(&[t, e], xs))],
                bind(t),
                EXACT,
            );
        }
    }
}

fn router_cases(s: &mut Suite) {
    // (the last: fewer kept experts than k, so masked ones are chosen too)
    for (e, groups, keep, k, norm) in [
        (16, 4, 2, 4, true),
        (32, 8, 4, 8, true),
        (12, 1, 1, 3, false),
        (16, 4, 1, 6, true),
    ] {
        for t in [1, 6] {
            let mut g = Graph::new();
            let logits = f32_input(&mut g, "logits", shape![Sym::T, e]);
            let bias = s.weight(&mut g, DType::F32, &[e]);
            let r = g
                .push(
                    Op::MoeRouter {
                        groups,
                        keep,
                        k,
                        norm,
                        scale: 2.5,
                    },
                    &[logits, bias],
                )
                .expect("moe_router");
            g.output(lingot_ir::Value { node: r, index: 0 }, "ids");
            g.output(lingot_ir::Value { node: r, index: 1 }, "weights");
            // distinct logits far apart in sigmoid terms; the (random) bias is small
            let xs: Vec<f32> = distinct(s, t, e).iter().map(|v| v * 4.0).collect();
            s.case(
                format!("moe_router E {e} {groups}/{keep} k {k} t {t}"),
                g,
                vec![("logits".into(), host_f32(&[t, e], xs))],
                bind(t),
                TRANSCENDENTAL,
            );
        }
    }
}

fn suite(seed: u64) -> Suite {
    let mut s = Suite::new(seed);
    sort_cases(&mut s);
    group_cases(&mut s);
    router_cases(&mut s);
    s
}

#[test]
fn routing_ops_match_cpu() {
    let names = run(&suite(31), common::default_options(16));
    for op in ["argsort", "top_k", "group_mask", "moe_router"] {
        assert!(names.iter().any(|n| n.starts_with(op)), "no case for {op}");
    }
}

#[test]
fn routing_ops_match_cpu_without_subgroups() {
    run(&suite(32), common::portable(16));
}

/// `moe_router(mul_mat(w, rms_norm_mul(x + a, nw)), bias)`, the router as Bailing-MoE2 builds it
/// (the norm's input computed, as the residual stream is). Row r of w is `4 c_r / k` everywhere,
/// c_r distinct multiples of 1/64, and x + a and nw are positive, so the logits are
/// `4 c_r mean(xn)`: distinct, well apart, whatever the order of the sums. An output `a * a`,
/// planned between the logits and the router, takes a buffer like x + a's: in a decode plan
/// that buffer must stay the norm's input until the router's launch has read it.
fn routed(s: &mut Suite, e: usize, (groups, keep, k): (usize, usize, usize), kx: usize) -> Graph {
    let mut g = Graph::new();
    let x = f32_input(&mut g, "x", shape![Sym::T, kx]);
    let a = f32_input(&mut g, "a", shape![Sym::T, kx]);
    let nw_data = s.f32s(kx, 0.5, 1.5);
    let nw = s.weight_f32(&mut g, &[kx], &nw_data);
    let c = distinct(s, 1, e);
    let w_data: Vec<f32> = c.iter().flat_map(|c| vec![4.0 * c / kx as f32; kx]).collect();
    let w = s.weight_f32(&mut g, &[e, kx], &w_data);
    let bias = s.weight(&mut g, DType::F32, &[e]);
    let sum = push(&mut g, Op::Add, &[x, a]);
    let xn = push(&mut g, Op::RmsNormMul { eps: 1e-6 }, &[sum, nw]);
    let logits = push(&mut g, Op::MulMat, &[w, xn]);
    let other = push(&mut g, Op::Mul, &[a, a]);
    g.output(other, "a_squared");
    let op = Op::MoeRouter {
        groups,
        keep,
        k,
        norm: true,
        scale: 2.5,
    };
    let r = g.push(op, &[logits, bias]).expect("moe_router");
    g.output(lingot_ir::Value { node: r, index: 0 }, "ids");
    g.output(lingot_ir::Value { node: r, index: 1 }, "weights");
    g
}

/// The routed graphs over several runs of one backend (the last workgroup's counter must be back
/// at 0 for the next run), against the CPU; and their launches: one in a decode step (norm and
/// logits folded into the router's launch; and the add and mul) where workgroups hand results to
/// the last of them (`fused`), else one more (the norm folded into the logits' mat-vec); three
/// more beyond.
fn routed_runs(seed: u64, options: lingot_wgpu::WgpuOptions, fused: bool) {
    let mut s = Suite::new(seed);
    let shapes = [(32, (8, 4, 8)), (256, (8, 4, 8)), (12, (1, 1, 3)), (16, (4, 1, 6))];
    let graphs: Vec<_> = shapes
        .iter()
        .map(|(e, choice)| (*e, routed(&mut s, *e, *choice, 64)))
        .collect();
    let xs: Vec<Vec<f32>> = (0..4 * graphs.len()).map(|_| s.f32s(3 * 64, 0.5, 1.5)).collect();
    let mut xs = xs.into_iter();
    let mut cpu = lingot_cpu::CpuBackend::new(&s.weights);
    let mut gpu = common::backend(&s.weights, options);
    for (e, g) in &graphs {
        for (run, t) in [1, 1, 3, 1].into_iter().enumerate() {
            let mut x = xs.next().expect("inputs");
            x.truncate(t * 64);
            let a: Vec<f32> = x.iter().map(|v| 0.5 + 0.5 * v).collect();
            let inputs = [("x", host_f32(&[t, 64], x)), ("a", host_f32(&[t, 64], a))];
            let want = lingot_ir::exec::Backend::run(&mut cpu, g, &inputs, bind(t)).expect("cpu");
            let got =
                lingot_ir::exec::Backend::run(&mut gpu, g, &inputs, bind(t)).unwrap_or_else(|err| panic!("{err}"));
            let case = Case {
                name: String::new(),
                graph: Graph::new(),
                inputs: vec![],
                b: bind(t),
                tol: TRANSCENDENTAL,
            };
            if let Some(msg) = compare(&case, &want, &got) {
                panic!("E {e}, run {run} (t {t}): {msg}");
            }
        }
        for (t, want) in [(1, if fused { 3 } else { 4 }), (3, 5)] {
            let n = gpu.launches(g, bind(t)).unwrap_or_else(|err| panic!("{err}"));
            assert_eq!(n, want, "E {e}, t {t}: launches");
        }
    }
}

#[test]
fn routers_with_their_logits_match_cpu_run_after_run() {
    let options = lingot_wgpu::WgpuOptions {
        attention_merge: lingot_wgpu::AttentionMerge::InKernel,
        ..common::default_options(16)
    };
    routed_runs(33, options, true);
}

#[test]
fn routers_with_their_logits_without_subgroups() {
    let options = lingot_wgpu::WgpuOptions {
        attention_merge: lingot_wgpu::AttentionMerge::InKernel,
        ..common::portable(16)
    };
    routed_runs(34, options, true);
}

#[test]
fn routers_with_their_logits_as_a_launch_of_their_own() {
    routed_runs(35, common::portable(16), false);
}
