//! Shared by the integration tests: the every-op example, a variant census of `Op`, a random
//! generator of valid graphs, and a structural comparison of two graphs.
#![allow(dead_code)]

pub mod random;

use lingot_ir::{Graph, NodeId, Op, Value};
use std::collections::HashMap;

/// `tests/data/every_op.ir`, as written (with its leading comment lines).
pub const EVERY_OP: &str = include_str!("../data/every_op.ir");

/// [`EVERY_OP`] without its comment lines: exactly what the printer must write for it.
pub fn every_op_canonical() -> String {
    EVERY_OP
        .lines()
        .filter(|l| !l.starts_with(';'))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// How many variants `Op` has; [`variant_index`] numbers them `0..VARIANTS`.
pub const VARIANTS: usize = 31;

/// A distinct number per variant. Exhaustive on purpose: a new op will not compile here until
/// it gets a number, and the coverage tests then fail until an example of it exists.
pub fn variant_index(op: &Op) -> usize {
    match op {
        Op::Input { .. } => 0,
        Op::Weight { .. } => 1,
        Op::GetRows => 2,
        Op::MulMat => 3,
        Op::MulMatId => 4,
        Op::Add => 5,
        Op::Mul => 6,
        Op::Div => 7,
        Op::Scale { .. } => 8,
        Op::Silu => 9,
        Op::Sigmoid => 10,
        Op::SoftMax => 11,
        Op::RmsNorm { .. } => 12,
        Op::Rope { .. } => 13,
        Op::Argsort { .. } => 14,
        Op::TopK { .. } => 15,
        Op::GroupMask { .. } => 16,
        Op::Gather => 17,
        Op::Sum { .. } => 18,
        Op::Reshape { .. } => 19,
        Op::Slice { .. } => 20,
        Op::KvWrite { .. } => 21,
        Op::Attention { .. } => 22,
        Op::RmsNormMul { .. } => 23,
        Op::SwiGlu => 24,
        Op::MoeRouter { .. } => 25,
        Op::MoeGateUp => 26,
        Op::MoeDown => 27,
        Op::MulMatAdd => 28,
        Op::GateUp => 29,
        Op::QkvNormRope { .. } => 30,
    }
}

/// The variants present in `g`, as a sorted list of [`variant_index`] numbers.
pub fn variants_in(g: &Graph) -> Vec<usize> {
    let mut v: Vec<usize> = g.g.node_weights().map(|n| variant_index(&n.op)).collect();
    v.sort();
    v.dedup();
    v
}

/// Position of every value in topological order (what the printer numbers), independently of
/// the printer.
fn value_numbers(g: &Graph) -> (Vec<NodeId>, HashMap<Value, usize>) {
    let order = g.topo_order().expect("acyclic");
    let mut nums = HashMap::new();
    for &id in &order {
        for index in 0..g.node(id).results.len() as u32 {
            let n = nums.len();
            nums.insert(Value { node: id, index }, n);
        }
    }
    (order, nums)
}

/// Asserts that `a` and `b` hold the same nodes (op, result types, debug name — compared by
/// `Debug` text so NaN attributes compare equal), wired the same way, with the same outputs.
pub fn assert_same_structure(a: &Graph, b: &Graph) {
    let (oa, na) = value_numbers(a);
    let (ob, nb) = value_numbers(b);
    assert_eq!(oa.len(), ob.len(), "node counts differ");
    for (&ia, &ib) in oa.iter().zip(&ob) {
        assert_eq!(format!("{:?}", a.node(ia)), format!("{:?}", b.node(ib)));
        let ops_a: Vec<usize> = a.operands(ia).iter().map(|v| na[v]).collect();
        let ops_b: Vec<usize> = b.operands(ib).iter().map(|v| nb[v]).collect();
        assert_eq!(ops_a, ops_b, "operands of {:?}", a.node(ia).op);
    }
    let outs_a: Vec<(usize, &String)> = a.outputs.iter().map(|(v, n)| (na[v], n)).collect();
    let outs_b: Vec<(usize, &String)> = b.outputs.iter().map(|(v, n)| (nb[v], n)).collect();
    assert_eq!(outs_a, outs_b, "outputs differ");
}
