//! The Graphviz export is well formed: balanced braces and brackets outside strings, closed
//! strings, one node statement per node with the right shape and label, one edge per operand
//! labelled with its slot where the consumer has several operands, and one per output.

mod common;

use common::{random, EVERY_OP};
use lingot_ir::{parse, to_dot, Graph, Op};
use std::collections::HashMap;

/// Checks braces and brackets balance outside strings and every string closes.
fn assert_balanced(dot: &str) {
    let (mut depth, mut in_str, mut escaped) = (Vec::new(), false, false);
    for c in dot.chars() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '{' | '[' => depth.push(c),
            '}' => assert_eq!(depth.pop(), Some('{'), "unbalanced `}}`"),
            ']' => assert_eq!(depth.pop(), Some('['), "unbalanced `]`"),
            _ => {}
        }
    }
    assert!(!in_str, "unterminated string");
    assert!(depth.is_empty(), "unclosed {depth:?}");
}

/// The value of `key="..."` in a statement, unescaped.
fn attr(stmt: &str, key: &str) -> Option<String> {
    let start = stmt.find(&format!("{key}=\""))? + key.len() + 2;
    let mut out = String::new();
    let mut chars = stmt[start..].chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return Some(out),
            c => out.push(c),
        }
    }
    None
}

/// An edge statement: from, to, label.
type Edge = (String, String, Option<String>);

/// Node statements by id, and edges.
fn statements(dot: &str) -> (HashMap<String, String>, Vec<Edge>) {
    let body: Vec<&str> = dot.lines().collect();
    assert_eq!(body.first(), Some(&"digraph lingot {"));
    assert_eq!(body.last(), Some(&"}"));
    let (mut nodes, mut edges) = (HashMap::new(), vec![]);
    for line in &body[1..body.len() - 1] {
        let stmt = line.trim();
        assert!(stmt.ends_with(';'), "statement without `;`: {stmt}");
        let head = stmt.split(" [").next().unwrap_or("").trim_end_matches(';');
        if let Some((from, to)) = head.split_once(" -> ") {
            edges.push((from.to_string(), to.to_string(), attr(stmt, "label")));
        } else if head != "node" {
            assert!(
                nodes.insert(head.to_string(), stmt.to_string()).is_none(),
                "node {head} declared twice"
            );
        }
    }
    (nodes, edges)
}

fn check(g: &Graph) {
    let dot = to_dot(g);
    assert_balanced(&dot);
    let (nodes, edges) = statements(&dot);
    assert_eq!(nodes.len(), g.node_count() + g.outputs.len(), "{dot}");
    let mut want_edges = vec![];
    for id in g.g.node_indices() {
        let node = g.node(id);
        let stmt = &nodes[&format!("n{}", id.index())];
        let is_leaf = matches!(node.op, Op::Input { .. } | Op::Weight { .. });
        assert!(
            stmt.contains(if is_leaf { "shape=ellipse" } else { "shape=box" }),
            "{stmt}"
        );
        let label = attr(stmt, "label").unwrap_or_default();
        assert!(label.contains(node.op.name()), "{label}");
        for t in &node.results {
            assert!(label.contains(&t.to_string()), "{label} lacks {t}");
        }
        if let Some(name) = &node.name {
            assert!(label.contains(&lingot_ir_quote(name)), "{label} lacks {name:?}");
        }
        let operands = g.operands(id);
        for (slot, v) in operands.iter().enumerate() {
            let slot_label = (operands.len() > 1).then(|| slot.to_string());
            want_edges.push((format!("n{}", v.node.index()), format!("n{}", id.index()), slot_label));
        }
    }
    for (i, (v, _)) in g.outputs.iter().enumerate() {
        want_edges.push((format!("n{}", v.node.index()), format!("out{i}"), None));
    }
    let mut got: Vec<_> = edges
        .into_iter()
        .map(|(f, t, l)| {
            // Only the slot part of a label is compared; a `: %N` suffix names the result read.
            let slot = l.and_then(|l| l.split(": ").next().filter(|s| !s.starts_with('%')).map(str::to_string));
            (f, t, slot)
        })
        .collect();
    got.sort();
    want_edges.sort();
    assert_eq!(got, want_edges, "{dot}");
}

/// How a debug name appears in a label: quoted with the text form's escapes.
fn lingot_ir_quote(name: &str) -> String {
    let mut q = String::from("\"");
    for c in name.chars() {
        match c {
            '\\' => q.push_str("\\\\"),
            '"' => q.push_str("\\\""),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            '\r' => q.push_str("\\r"),
            c if c.is_control() => q.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

#[test]
fn every_op_example_is_well_formed() {
    let g = parse(EVERY_OP).unwrap();
    check(&g);
    let dot = to_dot(&g);
    // moe_down reads both router results: its edges say which one.
    assert!(
        dot.contains("[label=\"2: %37\"]") && dot.contains("[label=\"3: %38\"]"),
        "{dot}"
    );
}

#[test]
fn random_graphs_are_well_formed() {
    for seed in 0..100 {
        check(&random::graph(seed, 40));
    }
}

#[test]
fn single_operand_edges_have_no_label() {
    let g = parse("%0 = input \"x\" : f32[4]\n%1 = silu %0 : f32[4]\noutput %1 \"y\"\n").unwrap();
    let dot = to_dot(&g);
    assert!(dot.contains("  n0 -> n1;\n"), "{dot}");
}
