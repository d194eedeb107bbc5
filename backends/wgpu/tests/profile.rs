//! `WgpuBackend::profile`: one timed launch per kernel launch of the plan, each named by its
//! pipeline and graph node, with the bytes it reads from shapes and dtypes; the same outputs as a
//! plain run. Needs an adapter with timestamp queries (lavapipe has them); on one without,
//! `profile` must fail with a clear error instead.

mod common;

use common::*;
use lingot_ir::exec::{Backend, HostTensor};
use lingot_ir::{shape, Bindings, DType, Graph, Op, Sym, TensorType, Value};

#[test]
fn profile_times_every_launch_and_counts_weight_bytes() {
    let (n, k) = (48, 256);
    let mut r = rng(7);
    let mut w = MemWeights::default();
    w.add("w", DType::Q4K, &[n, k], random_weight(&mut r, DType::Q4K, n, k));
    let mut g = Graph::new();
    let x: Value = g.input("x", TensorType::new(DType::F32, shape![Sym::T, k]));
    let wv = g.weight("w", TensorType::new(DType::Q4K, shape![n, k]));
    let y: Value = g.push(Op::MulMat, &[wv, x]).expect("mul_mat").into();
    let z: Value = g.push(Op::RmsNorm { eps: 1e-6 }, &[y]).expect("rms_norm").into();
    g.output(z, "z");
    let mut be = backend(&w, default_options(8));
    let input = HostTensor::F32 {
        shape: vec![1, k],
        data: randn(&mut r, k),
    };
    let ins = [("x", input)];
    let b = Bindings { t: 1, kv: 1 };
    if !be.can_profile() {
        let e = be.profile(&g, &ins, b).expect_err("profile without timestamp queries");
        assert!(e.to_string().contains("timestamp"), "{e}");
        return;
    }
    let plain = be.run(&g, &ins, b).expect("run");
    let (outs, times) = be.profile(&g, &ins, b).expect("profile");
    assert_eq!(outs, plain, "a profiled run computes the same outputs");
    let labels: Vec<&str> = times.iter().map(|t| t.kernel.as_str()).collect();
    assert_eq!(labels.len(), 2, "{labels:?}");
    assert!(labels[0].starts_with("mat_vec.q4_k"), "{labels:?}");
    assert!(labels[1].starts_with("rms_norm"), "{labels:?}");
    assert!(times[0].node.contains("mul_mat"), "{}", times[0].node);
    // 48 rows of 256 Q4_K weights (144 bytes a row) and one row of x
    assert_eq!(times[0].bytes, (n * 144 + 4 * k) as u64);
    assert!(times.iter().all(|t| t.ns >= 0.0 && t.ns.is_finite()));
    assert!(times.iter().any(|t| t.ns > 0.0), "no launch took any time: {times:?}");
    let rows = lingot_wgpu::profile::summarize(&times);
    let table = lingot_wgpu::profile::table(&rows);
    assert!(table.contains("mat_vec.q4_k") && table.lines().last().is_some_and(|l| l.contains("| total")));
}
