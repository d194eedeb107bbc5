//! Graphviz export: `lingot dump-ir --dot | dot -Tsvg`.
//!
//! One DOT node per graph node (`n<index>`), labelled with its value number and op, its debug
//! name and its result types; `input` and `weight` nodes are ellipses, ops are boxes, graph
//! outputs are extra `out<i>` nodes. One edge per operand, labelled with the operand slot when
//! the consumer has more than one operand, and with the value read when the producer has several
//! results.

use std::fmt::Write;

use crate::text::{label, Numbering};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::{Graph, NodeId, Op, Operand, Value};

/// The graph in Graphviz DOT.
pub fn to_dot(g: &Graph) -> String {
    let order = g.topo_order().unwrap_or_else(|_| g.g.node_indices().collect());
    let nums = Numbering::new(g, &order);
    let mut out = String::from("digraph lingot {\n  node [fontname=\"monospace\"];\n");
    for &id in &order {
        let _ = writeln!(out, "  {}", node_line(g, &nums, id));
    }
    for &id in &order {
        edges(g, &nums, id, &mut out);
    }
    for (i, (v, name)) in g.outputs.iter().enumerate() {
        let text = escape(&format!("output {}", crate::text::quote(name)));
        let _ = writeln!(out, "  out{i} [shape=doubleoctagon, label=\"{text}\"];");
        let _ = writeln!(
            out,
            "  n{} -> out{i} [label=\"{}\"];",
            v.node.index(),
            escape(&nums.value(g, *v))
        );
    }
    out.push_str("}\n");
    out
}

fn node_line(g: &Graph, nums: &Numbering, id: NodeId) -> String {
    let node = g.node(id);
    let shape = if let Op::Input { .. } | Op::Weight { .. } = node.op {
        "ellipse"
    } else {
        "box"
    };
    let mut lines = vec![label(g, Some(nums), id)];
    let tys: Vec<String> = node.results.iter().map(|t| t.to_string()).collect();
    lines.push(tys.join(", "));
    let text: Vec<String> = lines.iter().map(|l| escape(l)).collect();
    format!("n{} [shape={shape}, label=\"{}\"];", id.index(), text.join("\\n"))
}

/// The edges into `id`, in slot order (as stored, so a broken graph shows what it holds).
fn edges(g: &Graph, nums: &Numbering, id: NodeId, out: &mut String) {
    let mut ins: Vec<(NodeId, Operand)> =
        g.g.edges_directed(id, Direction::Incoming)
            .map(|e| (e.source(), *e.weight()))
            .collect();
    ins.sort_by_key(|(_, o)| o.slot);
    for &(src, o) in &ins {
        let mut parts = vec![];
        if ins.len() > 1 {
            parts.push(o.slot.to_string());
        }
        if g.node(src).results.len() > 1 {
            parts.push(nums.value(
                g,
                Value {
                    node: src,
                    index: o.result,
                },
            ));
        }
        let attr = if parts.is_empty() {
            String::new()
        } else {
            format!(" [label=\"{}\"]", escape(&parts.join(": ")))
        };
        let _ = writeln!(out, "  n{} -> n{}{attr};", src.index(), id.index());
    }
}

/// Escapes text for a double-quoted DOT string.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
