//! Op parity, the fused ops with kernels of their own: mul_mat_add (the product's addend added as
//! it is written; mat-vec and tiled forms), gate_up (both weights in one pass; mixed dtypes and
//! large batches through two products), qkv_norm_rope (q and k normed and rotated, k and v into
//! the KV caches) across a sequence of runs with attention on top; rms_norm_mul folded into the
//! mat-vecs that read it, and a shared expert folded into moe_gate_up and moe_down (decode).

mod common;
mod parity;

use lingot_cpu::CpuBackend;
use lingot_ir::exec::{Backend, HostTensor};
use lingot_ir::{shape, Bindings, DType, Graph, Op, Sym, Value};
use parity::*;

const DTYPES: [DType; 6] = [DType::F32, DType::F16, DType::Q8_0, DType::Q4_0, DType::Q4K, DType::Q6K];

fn k_for(dtype: DType) -> usize {
    if dtype.is_quantized() {
        2 * dtype.block_elems()
    } else {
        45
    }
}

fn suite(seed: u64) -> Suite {
    let mut s = Suite::new(seed);
    for dtype in DTYPES {
        let (n, k) = (13, k_for(dtype));
        for t in [1, 5, 9, 33] {
            let mut g = Graph::new();
            let w = s.weight(&mut g, dtype, &[n, k]);
            let x = f32_input(&mut g, "x", shape![Sym::T, k]);
            let a = f32_input(&mut g, "a", shape![Sym::T, n]);
            let y = push(&mut g, Op::MulMatAdd, &[w, x, a]);
            g.output(y, "y");
            let inputs = vec![
                ("x".into(), host_f32(&[t, k], s.f32s(t * k, -1.0, 1.0))),
                ("a".into(), host_f32(&[t, n], s.f32s(t * n, -1.0, 1.0))),
            ];
            s.case(
                format!("mul_mat_add {dtype} [{n},{k}] t {t}"),
                g,
                inputs,
                bind(t),
                ARITH,
            );
        }
        for (t, up_dtype) in [(1, dtype), (3, dtype), (8, dtype), (9, dtype), (2, DType::Q8_0)] {
            let k = if up_dtype == dtype { k_for(dtype) } else { 256 };
            let mut g = Graph::new();
            let gate = s.weight(&mut g, dtype, &[11, k]);
            let up = s.weight(&mut g, up_dtype, &[11, k]);
            let x = f32_input(&mut g, "x", shape![Sym::T, k]);
            let y = push(&mut g, Op::GateUp, &[x, gate, up]);
            g.output(y, "y");
            let inputs = vec![("x".into(), host_f32(&[t, k], s.f32s(t * k, -1.0, 1.0)))];
            s.case(
                format!("gate_up {dtype}/{up_dtype} [11,{k}] t {t}"),
                g,
                inputs,
                bind(t),
                TRANSCENDENTAL,
            );
        }
    }
    s
}

#[test]
fn mul_mat_add_and_gate_up_match_cpu() {
    let names = run(&suite(71), common::default_options(16));
    assert!(
        names.iter().any(|n| n.starts_with("mul_mat_add q4_k")) && names.iter().any(|n| n.starts_with("gate_up q6_k"))
    );
}

#[test]
fn mul_mat_add_and_gate_up_match_cpu_without_subgroups() {
    run(&suite(72), common::portable(16));
}

/// qkv [t, (4 + 2) * 16 + 2 * 8] → q [t, 4, 16], k cache [kv, 2, 16], v cache [kv, 2, 8];
/// attention on top. Outputs: q, the caches, attention.
fn layer(s: &mut Suite) -> Graph {
    let mut g = Graph::new();
    let qkv = f32_input(&mut g, "qkv", shape![Sym::T, 112]);
    let qn = s.weight(&mut g, DType::F32, &[16]);
    let kn = s.weight(&mut g, DType::F32, &[16]);
    let pos = i32_input(&mut g, "pos", shape![Sym::T]);
    let op = Op::QkvNormRope {
        heads: 4,
        kv_heads: 2,
        eps: 1e-6,
        n_rot: 8,
        freq_base: 10000.0,
        freq_scale: 1.0,
        k_cache: "cache_k.0".into(),
        v_cache: "cache_v.0".into(),
    };
    let id = g.push(op, &[qkv, qn, kn, pos]).expect("qkv_norm_rope");
    let (q, k, v) = (
        Value { node: id, index: 0 },
        Value { node: id, index: 1 },
        Value { node: id, index: 2 },
    );
    let a = push(&mut g, Op::Attention { scale: 0.25 }, &[q, k, v]);
    g.output(q, "q");
    g.output(k, "k");
    g.output(v, "v");
    g.output(a, "attn");
    g
}

fn sequence(options: lingot_wgpu::WgpuOptions) {
    let mut s = Suite::new(73);
    let g = layer(&mut s);
    let mut cpu = CpuBackend::new(&s.weights);
    let mut gpu = common::backend(&s.weights, options);
    let mut r = common::rng(74);
    let steps = [(4, 4), (1, 5), (3, 8), (1, 9)];
    for (i, (t, kv)) in steps.into_iter().enumerate() {
        if i == 3 {
            cpu.reset();
            gpu.reset();
        }
        let kv = if i == 3 { t } else { kv };
        let start = (kv - t) as i32;
        let inputs: Vec<(&str, HostTensor)> = vec![
            ("qkv", host_f32(&[t, 112], common::randn(&mut r, t * 112))),
            ("pos", host_i32(&[t], (start..start + t as i32).collect())),
        ];
        let b = Bindings { t, kv };
        let want = cpu.run(&g, &inputs, b).expect("cpu");
        let got = gpu.run(&g, &inputs, b).unwrap_or_else(|e| panic!("gpu at {b:?}: {e}"));
        let case = Case {
            name: String::new(),
            graph: Graph::new(),
            inputs: vec![],
            b,
            tol: TRANSCENDENTAL,
        };
        if let Some(msg) = compare(&case, &want, &got) {
            panic!("t {t} kv {kv}: {msg}");
        }
    }
}

#[test]
fn qkv_norm_rope_matches_cpu_run_by_run() {
    sequence(common::default_options(16));
}

#[test]
fn qkv_norm_rope_matches_cpu_without_subgroups() {
    sequence(common::portable(16));
}

/// rms_norm_mul read only as the x of mat-vecs, with its input computed (a pooled buffer the
/// readers still need): `mul_mat`, `gate_up` (one pass; and two products when gate and up are
/// stored differently) and `moe_gate_up`. In a decode plan (t = 1) the norm is folded into those
/// kernels (no launch of its own); at t = 3 it is launched. Returns the graph and inputs at `t`.
fn norm_readers(s: &mut Suite, dtype: DType, t: usize) -> (Graph, Vec<(String, HostTensor)>) {
    let k = if dtype.is_quantized() {
        2 * dtype.block_elems()
    } else {
        64
    };
    let mut g = Graph::new();
    let x = f32_input(&mut g, "x", shape![Sym::T, k]);
    let a = f32_input(&mut g, "a", shape![Sym::T, k]);
    let ids = i32_input(&mut g, "ids", shape![Sym::T, 2]);
    let nw = s.weight(&mut g, DType::F32, &[k]);
    let sum = push(&mut g, Op::Add, &[x, a]);
    let y = push(&mut g, Op::RmsNormMul { eps: 1e-6 }, &[sum, nw]);
    let w = s.weight(&mut g, dtype, &[13, k]);
    let (gate, up) = (s.weight(&mut g, dtype, &[11, k]), s.weight(&mut g, dtype, &[11, k]));
    let mixed_up = s.weight(&mut g, DType::Q8_0, &[11, k]);
    let (gate_e, up_e) = (s.weight(&mut g, dtype, &[4, 7, k]), s.weight(&mut g, dtype, &[4, 7, k]));
    let outs = [
        push(&mut g, Op::MulMat, &[w, y]),
        push(&mut g, Op::GateUp, &[y, gate, up]),
        push(&mut g, Op::GateUp, &[y, gate, mixed_up]),
        push(&mut g, Op::MoeGateUp, &[y, gate_e, up_e, ids]),
    ];
    for (i, o) in outs.into_iter().enumerate() {
        g.output(o, &format!("y{i}"));
    }
    let id_data: Vec<i32> = (0..2 * t as i32).map(|i| (i * 3 + 1) % 4).collect();
    let inputs = vec![
        ("x".into(), host_f32(&[t, k], s.f32s(t * k, -2.0, 2.0))),
        ("a".into(), host_f32(&[t, k], s.f32s(t * k, -1.0, 1.0))),
        ("ids".into(), host_i32(&[t, 2], id_data)),
    ];
    (g, inputs)
}

fn folded_norms(seed: u64, options: lingot_wgpu::WgpuOptions) {
    let mut s = Suite::new(seed);
    let mut launches = vec![];
    for dtype in DTYPES {
        for t in [1, 3] {
            let (g, inputs) = norm_readers(&mut s, dtype, t);
            launches.push((g.clone(), t, dtype));
            s.case(
                format!("rms_norm_mul readers {dtype} t {t}"),
                g,
                inputs,
                bind(t),
                TRANSCENDENTAL,
            );
        }
    }
    run(&s, options.clone());
    // add, mul_mat, gate_up, the second gate_up (two products and a swiglu where up is stored
    // differently; those products fold the norm as well), moe_gate_up, and the norm's own
    // launch where it is not folded
    let mut gpu = common::backend(&s.weights, options);
    for (g, t, dtype) in launches {
        let n = gpu.launches(&g, bind(t)).unwrap_or_else(|e| panic!("{e}"));
        let mixed = if dtype == DType::Q8_0 { 1 } else { 3 };
        let folded = t == 1;
        assert_eq!(n, 4 + mixed + usize::from(!folded), "{dtype} t {t}: launches");
    }
}

#[test]
fn folded_norms_match_cpu() {
    folded_norms(73, common::default_options(16));
}

#[test]
fn folded_norms_match_cpu_without_subgroups() {
    folded_norms(74, common::portable(16));
}

/// A MoE FFN with a shared expert, as Bailing-MoE2 builds it after the passes: x normed
/// (`rms_norm_mul`, folded at t = 1), then `moe_down(moe_gate_up(xn, ..), .., mul_mat(down_sh,
/// gate_up(xn, gate_sh, up_sh)), res, extra)` (three addends: one more than the kernel adds). In a
/// decode plan (t = 1) the shared expert folds into the two expert kernels when its weights are
/// stored as the routed ones; otherwise it is launched. The ids include -1 (no expert).
fn moe_with_shared(s: &mut Suite, dtype: DType, shared_dtype: DType, t: usize) -> (Graph, Vec<(String, HostTensor)>) {
    let (k, n) = if dtype.is_quantized() {
        let blk = dtype.block_elems().max(shared_dtype.block_elems());
        (blk, blk)
    } else {
        (48, 20)
    };
    let (experts, slots) = (5, 3);
    let mut g = Graph::new();
    let x = f32_input(&mut g, "x", shape![Sym::T, k]);
    let ids = i32_input(&mut g, "ids", shape![Sym::T, slots]);
    let wts = f32_input(&mut g, "w", shape![Sym::T, slots]);
    let res = f32_input(&mut g, "res", shape![Sym::T, k]);
    let extra = f32_input(&mut g, "extra", shape![Sym::T, k]);
    let nw = s.weight(&mut g, DType::F32, &[k]);
    let xn = push(&mut g, Op::RmsNormMul { eps: 1e-6 }, &[x, nw]);
    let gate_e = s.weight(&mut g, dtype, &[experts, n, k]);
    let up_e = s.weight(&mut g, dtype, &[experts, n, k]);
    let down_e = s.weight(&mut g, dtype, &[experts, k, n]);
    let gate_s = s.weight(&mut g, shared_dtype, &[n, k]);
    let up_s = s.weight(&mut g, shared_dtype, &[n, k]);
    let down_s = s.weight(&mut g, shared_dtype, &[k, n]);
    let h = push(&mut g, Op::MoeGateUp, &[xn, gate_e, up_e, ids]);
    let hs = push(&mut g, Op::GateUp, &[xn, gate_s, up_s]);
    let sh = push(&mut g, Op::MulMat, &[down_s, hs]);
    let y = push(&mut g, Op::MoeDown, &[h, down_e, ids, wts, sh, res, extra]);
    g.output(y, "y");
    let id_data: Vec<i32> = (0..(slots * t) as i32).map(|i| (i * 2 + 1) % 6 - 1).collect();
    let inputs = vec![
        ("x".into(), host_f32(&[t, k], s.f32s(t * k, -2.0, 2.0))),
        ("ids".into(), host_i32(&[t, slots], id_data)),
        ("w".into(), host_f32(&[t, slots], s.f32s(t * slots, 0.0, 1.0))),
        ("res".into(), host_f32(&[t, k], s.f32s(t * k, -1.0, 1.0))),
        ("extra".into(), host_f32(&[t, k], s.f32s(t * k, -1.0, 1.0))),
    ];
    (g, inputs)
}

fn shared_experts(seed: u64, options: lingot_wgpu::WgpuOptions) {
    let mut s = Suite::new(seed);
    let mut launches = vec![];
    let pairs = DTYPES.iter().map(|d| (*d, *d)).chain([(DType::Q4K, DType::Q8_0)]);
    for (dtype, shared_dtype) in pairs {
        for t in [1, 3] {
            let (g, inputs) = moe_with_shared(&mut s, dtype, shared_dtype, t);
            launches.push((g.clone(), t, dtype == shared_dtype));
            s.case(
                format!("moe with shared expert {dtype}/{shared_dtype} t {t}"),
                g,
                inputs,
                bind(t),
                TRANSCENDENTAL,
            );
        }
    }
    run(&s, options.clone());
    // moe_gate_up and moe_down, which adds two addends as it writes: folded, `res` and `extra`;
    // else the shared product and `res`, `extra` by an add-into, and the shared gate_up and
    // mul_mat; beyond decode, the norm as well
    let mut gpu = common::backend(&s.weights, options);
    for (g, t, alike) in launches {
        let n = gpu.launches(&g, bind(t)).unwrap_or_else(|e| panic!("{e}"));
        let want = match (t, alike) {
            (1, true) => 2,
            (1, false) => 5,
            _ => 6,
        };
        assert_eq!(n, want, "t {t}, shared expert stored alike {alike}: launches");
    }
}

#[test]
fn shared_experts_fold_into_the_expert_kernels() {
    shared_experts(75, common::default_options(16));
}

#[test]
fn shared_experts_fold_without_subgroups() {
    shared_experts(76, common::portable(16));
}
