//! The verifier finds each kind of defect and names the node as the text form prints it.
//! Expected labels and numbers are worked out by hand from the graphs built here.

use lingot_ir::{shape, verify, DType, Dim, Graph, IrError, Node, NodeId, Op, Operand, Sym, TensorType, Value};

fn f32t(s: lingot_ir::Shape) -> TensorType {
    TensorType::new(DType::F32, s)
}

/// `%0 = input "x" : f32[t, 8]`, `%1 = weight "w" : f32[8]`, and the caller's nodes after.
fn base() -> (Graph, Value, Value) {
    let mut g = Graph::new();
    let x = g.input("x", f32t(shape![Sym::T, 8]));
    let w = g.weight("w", f32t(shape![8]));
    (g, x, w)
}

fn add_node(g: &mut Graph, op: Op, results: Vec<TensorType>, name: &str, operands: &[Value]) -> NodeId {
    g.add_node(
        Node {
            op,
            results,
            name: Some(name.into()),
        },
        operands,
    )
}

/// Asserts the error names `node` exactly and its message contains `msg`.
fn assert_defect(g: &Graph, node: &str, msg: &str) {
    match verify(g) {
        Err(IrError::Type { node: n, msg: m }) => {
            assert_eq!(n, node, "message: {m}");
            assert!(m.contains(msg), "message {m:?} should contain {msg:?}");
        }
        other => panic!("expected a defect at {node}, got {other:?}"),
    }
}

#[test]
fn a_valid_graph_passes() {
    let (mut g, x, w) = base();
    let s = g.push_named(Op::Add, &[x, w], "sum").unwrap();
    let k = g.push(Op::TopK { k: 2 }, &[s]).unwrap();
    g.output(k.into(), "ids");
    assert_eq!(verify(&g), Ok(()));
}

#[test]
fn cycle_names_a_node_on_it() {
    let (mut g, x, w) = base();
    let s = g.push_named(Op::Add, &[x, w], "sum").unwrap();
    let k = g.push_named(Op::Silu, &[s], "act").unwrap();
    let _unrelated = g.push_named(Op::Sigmoid, &[x], "other").unwrap();
    g.g.add_edge(k.node, s.node, Operand { slot: 2, result: 0 });
    let err = verify(&g).unwrap_err();
    let on_cycle = [
        IrError::Type {
            node: "#2 = add \"sum\"".into(),
            msg: "lies on a cycle".into(),
        },
        IrError::Type {
            node: "#3 = silu \"act\"".into(),
            msg: "lies on a cycle".into(),
        },
    ];
    assert!(on_cycle.contains(&err), "{err:?}");
}

/// A consumer of the cycle with a lower node index than the cycle itself is not named.
#[test]
fn cycle_names_a_node_on_it_not_downstream() {
    let (mut g, x, _) = base();
    let t8 = || vec![f32t(shape![Sym::T, 8])];
    let downstream = add_node(&mut g, Op::Silu, t8(), "a", &[]);
    let c = add_node(&mut g, Op::Add, t8(), "c", &[]);
    let d = add_node(&mut g, Op::Silu, t8(), "d", &[]);
    g.g.add_edge(x.node, c, Operand { slot: 0, result: 0 });
    g.g.add_edge(d, c, Operand { slot: 1, result: 0 });
    g.g.add_edge(c, d, Operand { slot: 0, result: 0 });
    g.g.add_edge(c, downstream, Operand { slot: 0, result: 0 });
    assert_defect(&g, "#3 = add \"c\"", "lies on a cycle");
}

#[test]
fn self_loop_is_a_cycle() {
    let (mut g, x, _) = base();
    let n = add_node(&mut g, Op::Add, vec![f32t(shape![Sym::T, 8])], "acc", &[x]);
    g.g.add_edge(n, n, Operand { slot: 1, result: 0 });
    assert_defect(&g, "#2 = add \"acc\"", "lies on a cycle");
}

#[test]
fn wrong_arity() {
    let (mut g, x, _) = base();
    add_node(&mut g, Op::Add, vec![f32t(shape![Sym::T, 8])], "sum", &[x]);
    assert_defect(&g, "%2 = add \"sum\"", "add takes 2 operand(s), got 1");
}

#[test]
fn variadic_arity() {
    let (mut g, x, w) = base();
    add_node(
        &mut g,
        Op::MoeDown,
        vec![f32t(shape![Sym::T, 8])],
        "ffn_out.1",
        &[x, w, x],
    );
    assert_defect(&g, "%2 = moe_down \"ffn_out.1\"", "takes at least 4 operand(s), got 3");
}

#[test]
fn operands_on_an_input() {
    let (mut g, x, _) = base();
    add_node(
        &mut g,
        Op::Input { name: "y".into() },
        vec![f32t(shape![1])],
        "dbg",
        &[x],
    );
    assert_defect(&g, "%2 = input \"y\" \"dbg\"", "input takes 0 operand(s), got 1");
}

#[test]
fn missing_slot() {
    let (mut g, x, w) = base();
    let n = add_node(&mut g, Op::Add, vec![f32t(shape![Sym::T, 8])], "sum", &[]);
    g.g.add_edge(x.node, n, Operand { slot: 0, result: 0 });
    g.g.add_edge(w.node, n, Operand { slot: 2, result: 0 });
    assert_defect(&g, "%2 = add \"sum\"", "operand slot 1 is missing");
}

#[test]
fn duplicate_slot() {
    let (mut g, x, w) = base();
    let n = add_node(&mut g, Op::Add, vec![f32t(shape![Sym::T, 8])], "sum", &[]);
    g.g.add_edge(x.node, n, Operand { slot: 0, result: 0 });
    g.g.add_edge(w.node, n, Operand { slot: 0, result: 0 });
    assert_defect(&g, "%2 = add \"sum\"", "operand slot 0 is given twice");
}

#[test]
fn operand_reads_a_missing_result() {
    let (mut g, x, w) = base();
    let bad = Value { node: x.node, index: 1 };
    add_node(&mut g, Op::Add, vec![f32t(shape![Sym::T, 8])], "sum", &[bad, w]);
    assert_defect(&g, "%2 = add \"sum\"", "operand 0 reads result 1 of `%0 = input \"x\"`");
}

#[test]
fn too_many_results() {
    let (mut g, x, _) = base();
    let i2 = TensorType::new(DType::I32, shape![Sym::T, 2]);
    add_node(&mut g, Op::TopK { k: 2 }, vec![i2.clone(), i2], "ffn_moe_topk.3", &[x]);
    assert_defect(
        &g,
        "%2, %3 = top_k \"ffn_moe_topk.3\"",
        "top_k has 1 result(s), the node stores 2",
    );
}

#[test]
fn too_few_results_on_moe_router() {
    let mut g = Graph::new();
    let logits = g.input("logits", f32t(shape![Sym::T, 16]));
    let bias = g.weight("bias", f32t(shape![16]));
    let op = Op::MoeRouter {
        groups: 4,
        keep: 2,
        k: 4,
        norm: true,
        scale: 1.0,
    };
    add_node(
        &mut g,
        op,
        vec![TensorType::new(DType::I32, shape![Sym::T, 4])],
        "router",
        &[logits, bias],
    );
    assert_defect(
        &g,
        "%2 = moe_router \"router\"",
        "moe_router has 2 result(s), the node stores 1",
    );
}

#[test]
fn weight_with_two_results() {
    let mut g = Graph::new();
    let node = Node {
        op: Op::Weight { name: "blk.0.w".into() },
        results: vec![f32t(shape![2]); 2],
        name: None,
    };
    g.add_node(node, &[]);
    assert_defect(
        &g,
        "%0, %1 = weight \"blk.0.w\"",
        "weight must have exactly 1 result, has 2",
    );
}

#[test]
fn input_without_result() {
    let mut g = Graph::new();
    g.add_node(
        Node {
            op: Op::Input { name: "tokens".into() },
            results: vec![],
            name: None,
        },
        &[],
    );
    assert_defect(&g, "_ = input \"tokens\"", "input must have exactly 1 result, has 0");
}

#[test]
fn stored_type_differs_from_inference() {
    let (mut g, x, w) = base();
    let s = g.push_named(Op::Add, &[x, w], "sum").unwrap();
    add_node(
        &mut g,
        Op::Silu,
        vec![TensorType::new(DType::F16, shape![Sym::T, 8])],
        "ffn_act.2",
        &[s],
    );
    assert_defect(
        &g,
        "%3 = silu \"ffn_act.2\"",
        "stored result type(s) f16[t, 8] differ from the inferred f32[t, 8]",
    );
}

#[test]
fn inference_error_is_reported_at_the_node() {
    let (mut g, x, _) = base();
    let i9 = TensorType::new(DType::I32, shape![Sym::T, 9]);
    add_node(&mut g, Op::TopK { k: 9 }, vec![i9], "ffn_moe_topk.3", &[x]);
    assert_defect(&g, "%2 = top_k \"ffn_moe_topk.3\"", "k = 9");
}

/// Numbering follows topological order, not insertion order, and counts both router results.
#[test]
fn labels_use_printed_numbers() {
    let mut g = Graph::new();
    let logits = g.input("logits", f32t(shape![Sym::T, 16]));
    let bias = g.weight("bias", f32t(shape![16]));
    let op = Op::MoeRouter {
        groups: 4,
        keep: 2,
        k: 4,
        norm: true,
        scale: 1.0,
    };
    let r = g.push(op, &[logits, bias]).unwrap();
    let weights = Value { node: r, index: 1 };
    add_node(
        &mut g,
        Op::Scale { factor: 2.0, bias: 0.0 },
        vec![f32t(shape![Sym::T, 5])],
        "scaled",
        &[weights],
    );
    assert_defect(&g, "%4 = scale \"scaled\"", "differ from the inferred f32[t, 4]");
}

#[test]
fn output_of_a_removed_node() {
    let (mut g, x, w) = base();
    let s = g.push_named(Op::Add, &[x, w], "sum").unwrap();
    g.output(s, "logits");
    g.g.remove_node(s.node);
    assert_defect(&g, "output \"logits\"", "refers to node #2, which does not exist");
}

#[test]
fn output_of_a_missing_result() {
    let (mut g, x, _) = base();
    g.output(x, "ok");
    g.output(Value { node: x.node, index: 3 }, "bad");
    assert_defect(
        &g,
        "output \"bad\"",
        "refers to result 3 of `%0 = input \"x\"`, which has 1 result(s)",
    );
}

#[test]
fn error_display_names_the_node() {
    let (mut g, x, _) = base();
    add_node(&mut g, Op::Add, vec![f32t(shape![Sym::T, 8])], "sum", &[x]);
    let text = verify(&g).unwrap_err().to_string();
    assert!(text.starts_with("node %2 = add \"sum\": "), "{text}");
}

/// Every op of the every-op example over operands of random types (any count near its arity,
/// any rank, dtype and dims): inference and verification answer, and never panic.
#[test]
fn random_operand_types_never_panic() {
    use rand::seq::IndexedRandom;
    use rand::{Rng, SeedableRng};
    let example = lingot_ir::parse(include_str!("data/every_op.ir")).unwrap();
    let ops: Vec<Op> = example.g.node_weights().map(|n| n.op.clone()).collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let dims = [
        Dim::Const(0),
        Dim::Const(1),
        Dim::Const(2),
        Dim::Const(4),
        Dim::Const(16),
        Dim::Sym(Sym::T),
        Dim::Sym(Sym::Kv),
    ];
    let random_ty = |rng: &mut rand::rngs::StdRng| {
        let rank = rng.random_range(0..=4);
        let shape = lingot_ir::Shape((0..rank).map(|_| *dims.choose(rng).unwrap()).collect());
        TensorType::new(*DType::ALL.choose(rng).unwrap(), shape)
    };
    let mut accepted = 0;
    for case in 0..20_000 {
        let op = ops.choose(&mut rng).unwrap().clone();
        let mut g = Graph::new();
        let n = rng.random_range(0..=6);
        let operands: Vec<Value> = (0..n)
            .map(|i| g.input(&format!("in{i}"), random_ty(&mut rng)))
            .collect();
        let tys: Vec<&TensorType> = operands.iter().map(|v| g.ty(*v)).collect();
        // Half the time store what inference says, so some cases must verify.
        let results = match lingot_ir::infer::infer(&op, &tys) {
            Ok(r) if rng.random_bool(0.5) => r,
            _ => (0..op.num_results()).map(|_| random_ty(&mut rng)).collect(),
        };
        g.add_node(
            Node {
                op: op.clone(),
                results,
                name: None,
            },
            &operands,
        );
        let r = std::panic::catch_unwind(|| verify(&g));
        match r {
            Err(_) => panic!("case {case}: verify panicked on {}", lingot_ir::print(&g)),
            Ok(Ok(())) => accepted += 1,
            Ok(Err(_)) => {}
        }
    }
    assert!(accepted > 100 && accepted < 20_000, "{accepted} of 20000 verified");
}
