//! Op parity, routing ops: argsort (both orders), top_k, group_mask and the fused moe_router,
//! whose indices must equal the CPU's exactly. Inputs have no near ties: values are distinct
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
