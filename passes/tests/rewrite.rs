//! The graph surgery helpers: what they change, and that a rewrite they refuse changes nothing.

use lingot_ir::{parse, print, Graph, NodeId, Op, Value};
use lingot_passes::rewrite::{apply, erase, erase_dead, replace_all_uses};
use lingot_passes::Rewrite;

const CHAIN: &str = r#"
%x = input "x"                  : f32[t, 4]
%a = silu %x                    : f32[t, 4]  "a"
%b = sigmoid %a                 : f32[t, 4]  "b"
%c = scale %b {factor = 2.0, bias = 0.0} : f32[t, 4]  "c"
%k = reshape %x {shape = [t, 2, 2]} : f32[t, 2, 2]
%w = kv_write %k {cache = "k.0"} : f32[kv, 2, 2]
output %c "out"
output %b "b"
"#;

fn graph() -> Graph {
    parse(CHAIN).expect("the test graph parses")
}

/// The node with debug name `name`.
fn named(g: &Graph, name: &str) -> NodeId {
    g.g.node_indices()
        .find(|&n| g.node(n).name.as_deref() == Some(name))
        .expect("a node of that name")
}

fn input(g: &Graph) -> Value {
    g.g.node_indices()
        .find(|&n| matches!(g.node(n).op, Op::Input { .. }))
        .expect("the input")
        .into()
}

#[test]
fn apply_puts_the_node_in_place_and_rewires_readers_and_outputs() {
    let mut g = graph();
    let (x, b) = (input(&g), named(&g, "b"));
    // sigmoid(silu(x)) -> silu(x) (a made-up rewrite, types agree)
    let rw = Rewrite {
        op: Op::Silu,
        operands: vec![x],
        name: Some("b2".into()),
        replaces: vec![(b.into(), 0)],
    };
    let at = apply(&mut g, rw).expect("the rewrite types");
    assert_eq!(at, b, "the new node takes the replaced node's place");
    lingot_ir::verify(&g).expect("still a valid graph");
    let text = print(&g);
    assert!(!text.contains("sigmoid"), "{text}");
    assert!(!text.contains("\"a\""), "the old silu is dead and erased: {text}");
    assert!(
        text.contains("output %1 \"b\""),
        "the output follows the new node: {text}"
    );
    assert!(text.contains("%2 = scale %1"), "the scale reads the new node: {text}");
}

#[test]
fn a_rewrite_of_the_wrong_type_is_refused_and_changes_nothing() {
    let mut g = graph();
    let before = print(&g);
    let (x, b) = (input(&g), named(&g, "b"));
    let rw = Rewrite {
        op: Op::TopK { k: 2 },
        operands: vec![x],
        name: None,
        replaces: vec![(b.into(), 0)],
    };
    let err = apply(&mut g, rw).expect_err("i32[t, 2] cannot replace f32[t, 4]");
    assert!(err.contains("i32[t, 2]"), "{err}");
    assert_eq!(print(&g), before);
}

#[test]
fn a_rewrite_that_reads_what_it_replaces_is_refused() {
    let mut g = graph();
    let before = print(&g);
    let (a, c) = (named(&g, "a"), named(&g, "c"));
    // a := silu(c) would make a cycle a -> b -> c -> a
    let rw = Rewrite {
        op: Op::Silu,
        operands: vec![c.into()],
        name: None,
        replaces: vec![(a.into(), 0)],
    };
    let err = apply(&mut g, rw).expect_err("a cycle");
    assert!(err.contains("cycle"), "{err}");
    assert_eq!(print(&g), before);
}

#[test]
fn replace_all_uses_moves_readers_and_outputs() {
    let mut g = graph();
    let (a, b) = (named(&g, "a"), named(&g, "b"));
    replace_all_uses(&mut g, b.into(), a.into());
    let text = print(&g);
    assert!(text.contains("scale %1"), "{text}");
    assert!(text.contains("output %1 \"b\""), "{text}");
    assert_eq!(erase_dead(&mut g, [b]), 1, "the sigmoid is now dead");
    lingot_ir::verify(&g).expect("valid");
}

#[test]
fn erase_dead_keeps_outputs_readers_and_kv_writes() {
    let mut g = graph();
    let all: Vec<NodeId> = g.g.node_indices().collect();
    assert_eq!(erase_dead(&mut g, all), 0);
    assert_eq!(g.node_count(), 6);
}

#[test]
fn erase_refuses_a_node_that_is_still_read() {
    let mut g = graph();
    let a = named(&g, "a");
    assert!(erase(&mut g, &[a]).is_err());
    assert_eq!(g.node_count(), 6);
}
