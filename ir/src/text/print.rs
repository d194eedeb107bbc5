//! The printer: one line per node in [`Graph::topo_order`] order, then one `output` line per
//! graph output.
//!
//! ```text
//! %4 = weight "blk.3.exp_probs_b.bias"     : f32[256]
//! %5 = sigmoid %3                          : f32[t, 256]  "ffn_moe_probs.3"
//! %7 = group_mask %6 {groups = 8, keep = 4} : f32[t, 256]
//! %8, %9 = moe_router %7, %4 {groups = 8, keep = 4, k = 8, norm = true, scale = 2.5} : i32[t, 8], f32[t, 8]
//! output %9 "weights"
//! ```
//!
//! Values are numbered from `%0` in that order, a node with several results taking consecutive
//! numbers. The left-hand side is padded to a fixed column, and so is the type before a debug
//! name, so a change to one node never moves the columns of another in a diff. Floats print with
//! `{:?}`, which reads back to the same bits.

use std::collections::HashMap;
use std::fmt::Write;

use crate::{Attr, Graph, Node, NodeId, Op, Value};

/// Column where ` : ` starts (unless the left-hand side is longer).
const LHS_WIDTH: usize = 40;
/// Width the result types are padded to before a debug name.
const TYPES_WIDTH: usize = 11;

/// The value numbers of a graph in a given node order.
pub(crate) struct Numbering {
    first: HashMap<NodeId, usize>,
}

impl Numbering {
    /// Numbers the results of `order`'s nodes consecutively.
    pub(crate) fn new(g: &Graph, order: &[NodeId]) -> Numbering {
        let mut first = HashMap::with_capacity(order.len());
        let mut next = 0;
        for &id in order {
            first.insert(id, next);
            next += g.node(id).results.len();
        }
        Numbering { first }
    }

    /// `%N`, or `%?` plus the raw ids for a value that does not exist (only in broken graphs).
    pub(crate) fn value(&self, g: &Graph, v: Value) -> String {
        match self.first.get(&v.node) {
            Some(n) if (v.index as usize) < g.node(v.node).results.len() => format!("%{}", n + v.index as usize),
            _ => format!("%?{}.{}", v.node.index(), v.index),
        }
    }

    /// The node's results as they appear left of `=`: `%8, %9`.
    fn results(&self, g: &Graph, id: NodeId) -> String {
        let n = g.node(id).results.len();
        if n == 0 {
            return "_".into();
        }
        let vals: Vec<String> = (0..n as u32)
            .map(|index| self.value(g, Value { node: id, index }))
            .collect();
        vals.join(", ")
    }
}

/// The text form of `g`. A graph with a cycle prints in node-index order under a comment that
/// says so (it will not parse back).
pub fn print(g: &Graph) -> String {
    let mut out = String::new();
    let order = match g.topo_order() {
        Ok(order) => order,
        Err(n) => {
            let _ = writeln!(out, "; not a valid graph: node #{} lies on a cycle", n.index());
            g.g.node_indices().collect()
        }
    };
    let nums = Numbering::new(g, &order);
    for &id in &order {
        out.push_str(&node_line(g, &nums, id));
        out.push('\n');
    }
    for (v, name) in &g.outputs {
        let _ = writeln!(out, "output {} {}", nums.value(g, *v), quote(name));
    }
    out
}

fn node_line(g: &Graph, nums: &Numbering, id: NodeId) -> String {
    let node = g.node(id);
    let lhs = format!(
        "{} = {}{}{}",
        nums.results(g, id),
        node.op.name(),
        args(g, nums, id),
        attrs(&node.op)
    );
    let types = types(node);
    match &node.name {
        Some(name) => format!("{lhs:<LHS_WIDTH$} : {types:<TYPES_WIDTH$}  {}", quote(name)),
        None => format!("{lhs:<LHS_WIDTH$} : {types}"),
    }
}

/// ` %1, %0` for ordinary ops, ` "name"` for `input` and `weight`.
fn args(g: &Graph, nums: &Numbering, id: NodeId) -> String {
    if let Op::Input { name } | Op::Weight { name } = &g.node(id).op {
        return format!(" {}", quote(name));
    }
    let vals: Vec<String> = g.operands(id).into_iter().map(|v| nums.value(g, v)).collect();
    if vals.is_empty() {
        String::new()
    } else {
        format!(" {}", vals.join(", "))
    }
}

/// ` {k = 8, norm = true}`, or nothing.
fn attrs(op: &Op) -> String {
    let attrs = op.attrs();
    if attrs.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = attrs.iter().map(|(k, v)| format!("{k} = {}", attr(v))).collect();
    format!(" {{{}}}", parts.join(", "))
}

pub(crate) fn attr(a: &Attr) -> String {
    match a {
        Attr::Int(n) => n.to_string(),
        Attr::Float(x) => format!("{x:?}"),
        Attr::Bool(b) => b.to_string(),
        Attr::Str(s) => quote(s),
        Attr::Shape(s) => s.to_string(),
    }
}

fn types(node: &Node) -> String {
    let tys: Vec<String> = node.results.iter().map(|t| t.to_string()).collect();
    tys.join(", ")
}

/// A double-quoted string with `\\ \" \n \t \r` and `\u{..}` for other control characters.
pub(crate) fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '\\' => q.push_str("\\\\"),
            '"' => q.push_str("\\\""),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            '\r' => q.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(q, "\\u{{{:x}}}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// How the verifier names a node: `%12 = top_k "ffn_moe_topk.3"`, or with the raw node index
/// (`#12 = add`) when the graph has no numbering because it has a cycle.
pub(crate) fn label(g: &Graph, nums: Option<&Numbering>, id: NodeId) -> String {
    let node = g.node(id);
    let lhs = match nums {
        Some(nums) => nums.results(g, id),
        None => format!("#{}", id.index()),
    };
    let mut s = format!("{lhs} = {}", node.op.name());
    if let Op::Input { name } | Op::Weight { name } = &node.op {
        let _ = write!(s, " {}", quote(name));
    }
    if let Some(name) = &node.name {
        let _ = write!(s, " {}", quote(name));
    }
    s
}
