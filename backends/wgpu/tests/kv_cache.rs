//! Attention over the GPU-resident KV cache across runs: symbolic `t` / `kv` bound per run,
//! several outputs (the attention result and the cache contents), appending, rewriting a suffix,
//! `reset`, and the errors for a full cache or a gap. Checked against the CPU backend run by run.

mod common;
mod parity;

use lingot_cpu::CpuBackend;
use lingot_ir::exec::{Backend, BackendError, HostTensor};
use lingot_ir::{shape, Bindings, Graph, Op, Sym};
use parity::*;

const CONTEXT: usize = 16;

/// q [t, 4, 16], k [t, 2, 16], v [t, 2, 8] → kv_write both, attention; outputs: attention, k cache.
fn layer() -> Graph {
    let mut g = Graph::new();
    let q = f32_input(&mut g, "q", shape![Sym::T, 4, 16]);
    let k = f32_input(&mut g, "k", shape![Sym::T, 2, 16]);
    let v = f32_input(&mut g, "v", shape![Sym::T, 2, 8]);
    let kc = push(
        &mut g,
        Op::KvWrite {
            cache: "cache_k.0".into(),
        },
        &[k],
    );
    let vc = push(
        &mut g,
        Op::KvWrite {
            cache: "cache_v.0".into(),
        },
        &[v],
    );
    let a = push(&mut g, Op::Attention { scale: 0.25 }, &[q, kc, vc]);
    g.output(a, "attn");
    g.output(kc, "k_cache");
    g
}

fn inputs(s: &mut Suite, t: usize) -> Vec<(String, HostTensor)> {
    vec![
        ("q".into(), host_f32(&[t, 4, 16], s.f32s(t * 64, -1.0, 1.0))),
        ("k".into(), host_f32(&[t, 2, 16], s.f32s(t * 32, -1.0, 1.0))),
        ("v".into(), host_f32(&[t, 2, 8], s.f32s(t * 16, -1.0, 1.0))),
    ]
}

fn step(
    cpu: &mut CpuBackend,
    gpu: &mut lingot_wgpu::WgpuBackend,
    g: &Graph,
    ins: &[(String, HostTensor)],
    b: Bindings,
) {
    let ins: Vec<(&str, HostTensor)> = ins.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
    let want = cpu.run(g, &ins, b).expect("cpu run");
    let got = gpu.run(g, &ins, b).unwrap_or_else(|e| panic!("gpu run at {b:?}: {e}"));
    let case = Case {
        name: format!("{b:?}"),
        graph: Graph::new(),
        inputs: vec![],
        b,
        tol: TRANSCENDENTAL,
    };
    if let Some(msg) = compare(&case, &want, &got) {
        panic!("t {} kv {}: {msg}", b.t, b.kv);
    }
}

fn sequence(options: lingot_wgpu::WgpuOptions) {
    let s0 = Suite::new(41);
    let mut s = Suite::new(42);
    let g = layer();
    let mut cpu = CpuBackend::new(&s0.weights);
    let mut gpu = common::backend(&s0.weights, options);
    // prefill 5, decode 1 + 1, a batch of 3, then rewrite the last two positions
    for (t, kv) in [(5, 5), (1, 6), (1, 7), (3, 10), (2, 10)] {
        let ins = inputs(&mut s, t);
        step(&mut cpu, &mut gpu, &g, &ins, Bindings { t, kv });
    }
    cpu.reset();
    gpu.reset();
    for (t, kv) in [(2, 2), (1, 3)] {
        let ins = inputs(&mut s, t);
        step(&mut cpu, &mut gpu, &g, &ins, Bindings { t, kv });
    }
    // a full cache and a gap are errors, and leave the cache usable
    let ins = inputs(&mut s, 1);
    let ins: Vec<(&str, HostTensor)> = ins.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
    match gpu.run(&g, &ins, Bindings { t: 1, kv: CONTEXT + 1 }) {
        Err(BackendError::CacheFull { capacity, needed, .. }) => assert_eq!((capacity, needed), (CONTEXT, CONTEXT + 1)),
        other => panic!("expected CacheFull, got {:?}", other.map(|o| o.len())),
    }
    let gap = gpu
        .run(&g, &ins, Bindings { t: 1, kv: 9 })
        .expect_err("a gap in the cache");
    assert!(gap.to_string().contains("holds 3 positions"), "{gap}");
    let more = inputs(&mut s, 1);
    step(&mut cpu, &mut gpu, &g, &more, Bindings { t: 1, kv: 4 });
}

#[test]
fn attention_over_the_kv_cache_matches_cpu_run_by_run() {
    sequence(common::default_options(CONTEXT));
}

#[test]
fn attention_over_the_kv_cache_matches_cpu_without_subgroups() {
    sequence(common::portable(CONTEXT));
}

#[test]
fn attention_with_keys_from_inputs() {
    let mut s = Suite::new(43);
    // kv over 64 with few queries: decode plans split the keys over workgroups of 64 and
    // merge the partials (at t 3, kv 129 the first query sees none of the last split); past
    // 64 splits (kv > 4096) the splits widen (4096 keys in a 6000-key context: the most splits); over eight queries (prefill) blocks of queries
    // share their key loads (attention_tiled.wgsl, or attention_coop.wgsl where the head dims
    // are multiples of 16 and the device has cooperative matrices), several blocks and chunks of
    // keys
    let cases = [
        (12, 12),
        (20, 50),
        (37, 37),
        (1, 1),
        (3, 7),
        (6, 6),
        (2, 13),
        (1, 200),
        (3, 129),
        (1, 64),
        (1, 4096),
        (1, 4097),
        (2, 6000),
    ];
    // head dims that are a multiple of four (vector loads), ones that are not, and multiples of
    // 16 (cooperative-matrix tiles) up to 128
    let dims = cases.map(|(t, kv)| (t, kv, 24, 20));
    // (6 query heads on 3 KV heads; the last case 8 on 2, Ling's group of four)
    let sixteens = [
        (12, 12, 32, 32, 6, 3),
        (37, 37, 48, 16, 6, 3),
        (20, 90, 128, 128, 6, 3),
        (40, 45, 16, 64, 6, 3),
        (19, 50, 128, 128, 8, 2),
    ];
    for (t, kv, d, dv, heads, kv_heads) in dims
        .into_iter()
        .chain([(1, 150, 22, 18), (5, 9, 22, 18), (20, 30, 22, 18)])
        .map(|(t, kv, d, dv)| (t, kv, d, dv, 6, 3))
        .chain(sixteens)
    {
        let mut g = Graph::new();
        let q = f32_input(&mut g, "q", shape![Sym::T, heads, d]);
        let k = f32_input(&mut g, "k", shape![Sym::Kv, kv_heads, d]);
        let v = f32_input(&mut g, "v", shape![Sym::Kv, kv_heads, dv]);
        let a = push(&mut g, Op::Attention { scale: 0.2 }, &[q, k, v]);
        g.output(a, "y");
        let inputs = vec![
            ("q".into(), host_f32(&[t, heads, d], s.f32s(t * heads * d, -2.0, 2.0))),
            (
                "k".into(),
                host_f32(&[kv, kv_heads, d], s.f32s(kv * kv_heads * d, -2.0, 2.0)),
            ),
            (
                "v".into(),
                host_f32(&[kv, kv_heads, dv], s.f32s(kv * kv_heads * dv, -2.0, 2.0)),
            ),
        ];
        s.case(
            format!("attention t {t} kv {kv} d {d} dv {dv} heads {heads}/{kv_heads}"),
            g,
            inputs,
            Bindings { t, kv },
            TRANSCENDENTAL,
        );
    }
    run(&s, common::default_options(6000));
    run(&s, common::portable(6000));
}
