//! GPU failures are errors that say what happened: a lost device, a KV cache beyond the device's
//! binding limit, a bad token id, a missing weight or input.

mod common;
mod parity;

use lingot_ir::exec::{Backend, BackendError};
use lingot_ir::{shape, Bindings, DType, Graph, Op, Sym};
use parity::*;

fn scale_graph() -> Graph {
    let mut g = Graph::new();
    let x = f32_input(&mut g, "x", shape![Sym::T, 4]);
    let y = push(&mut g, Op::Scale { factor: 2.0, bias: 0.0 }, &[x]);
    g.output(y, "y");
    g
}

#[test]
fn a_lost_device_is_reported() {
    let w = common::MemWeights::default();
    let mut gpu = common::backend(&w, common::default_options(8));
    let g = scale_graph();
    let x = host_f32(&[1, 4], vec![1.0, 2.0, 3.0, 4.0]);
    let y = gpu.run(&g, &[("x", x.clone())], bind(1)).expect("runs before");
    assert_eq!(y[0].as_f32(), Some(&[2.0f32, 4.0, 6.0, 8.0][..]));
    gpu.destroy_device();
    let err = gpu.run(&g, &[("x", x)], bind(1)).expect_err("device lost");
    assert!(err.to_string().contains("was lost"), "{err}");
}

#[test]
fn a_kv_cache_beyond_the_binding_limit_is_reported() {
    let w = common::MemWeights::default();
    // 2^26 positions of 2 x 16 floats: 8 GiB, beyond any adapter's storage binding
    let mut gpu = common::backend(&w, common::default_options(1 << 26));
    let mut g = Graph::new();
    let k = f32_input(&mut g, "k", shape![Sym::T, 2, 16]);
    let c = push(
        &mut g,
        Op::KvWrite {
            cache: "cache_k.0".into(),
        },
        &[k],
    );
    g.output(c, "c");
    let k = host_f32(&[1, 2, 16], vec![0.0; 32]);
    let err = gpu
        .run(&g, &[("k", k)], Bindings { t: 1, kv: 1 })
        .expect_err("too large");
    let msg = err.to_string();
    assert!(
        msg.contains("KV cache \"cache_k.0\"") && msg.contains("8589934592 bytes"),
        "{msg}"
    );
}

#[test]
fn bad_ids_missing_inputs_and_weights_are_reported() {
    let mut s = Suite::new(61);
    let mut g = Graph::new();
    let table = s.weight(&mut g, DType::Q4_0, &[10, 32]);
    let ids = i32_input(&mut g, "tokens", shape![Sym::T]);
    let y = push(&mut g, Op::GetRows, &[table, ids]);
    g.output(y, "y");
    let mut gpu = common::backend(&s.weights, common::default_options(8));
    let err = gpu
        .run(&g, &[("tokens", host_i32(&[2], vec![3, 10]))], bind(2))
        .expect_err("id 10 of 10 rows");
    assert!(err.to_string().contains("id 10 is outside 0..10"), "{err}");
    match gpu.run(&g, &[], bind(2)) {
        Err(BackendError::MissingInput(n)) => assert_eq!(n, "tokens"),
        other => panic!("expected MissingInput, got {:?}", other.map(|o| o.len())),
    }
    let mut g2 = Graph::new();
    let w = g2.weight("nope", lingot_ir::TensorType::new(DType::F32, shape![4]));
    let x = f32_input(&mut g2, "x", shape![Sym::T, 4]);
    let y = push(&mut g2, Op::Add, &[x, w]);
    g2.output(y, "y");
    match gpu.run(&g2, &[("x", host_f32(&[1, 4], vec![0.0; 4]))], bind(1)) {
        Err(BackendError::MissingWeight(n)) => assert_eq!(n, "nope"),
        other => panic!("expected MissingWeight, got {:?}", other.map(|o| o.len())),
    }
}
