//! Graph surgery: the one module that changes a graph's structure. Passes describe what they
//! want as a [`Rewrite`] and call [`apply`], or call the primitives below; they never add or
//! remove nodes and edges themselves.
//!
//! - [`apply`]: put in the node a rule proposes, in the place of the first value it replaces
//!   (so dumps keep their order), rewire every use of the replaced values (graph outputs
//!   included) and erase what became dead.
//! - [`replace_all_uses`], [`merge`]: one value for another.
//! - [`erase_dead`], [`erase`]: remove nodes nothing reads (never outputs, never `kv_write`).
//!
//! Every change is checked before the graph is touched: the new node's result types must be what
//! shape inference gives and equal the types of the values they replace, the node may not read
//! anything downstream of what it replaces (that would be a cycle), and it must have a side effect
//! if a node it replaces has one (`qkv_norm_rope` replacing `kv_write`s takes their writes over;
//! the replaced nodes go even though they have side effects). A failed check leaves the graph as
//! it was.

use std::collections::HashSet;

use lingot_ir::infer::infer;
use lingot_ir::{Graph, Node, NodeId, Op, Operand, TensorType, Value};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

/// What a rule proposes: one new node, and the old values its results take the place of.
#[derive(Debug, Clone, PartialEq)]
pub struct Rewrite {
    pub op: Op,
    pub operands: Vec<Value>,
    /// Debug name of the new node (rules usually keep the name of the node they replace).
    pub name: Option<String>,
    /// `(old, i)`: every use of `old` reads result `i` of the new node instead. The first entry
    /// decides where the new node goes: it takes the place of `old`'s node.
    pub replaces: Vec<(Value, u32)>,
}

impl Rewrite {
    /// A one-result node that replaces `old`, keeping `old`'s debug name.
    pub fn replace(g: &Graph, old: impl Into<Value>, op: Op, operands: Vec<Value>) -> Rewrite {
        let old = old.into();
        let name = g.node(old.node).name.clone();
        Rewrite {
            op,
            operands,
            name,
            replaces: vec![(old, 0)],
        }
    }
}

/// Applies `rw` (see the module docs); returns the new node. On error the graph is unchanged.
pub fn apply(g: &mut Graph, rw: Rewrite) -> Result<NodeId, String> {
    let Some(&(first, _)) = rw.replaces.first() else {
        return Err("a rewrite must replace at least one value".into());
    };
    let results = check(g, &rw)?;
    let at = first.node;
    let replaced: HashSet<NodeId> = rw.replaces.iter().map(|(v, _)| v.node).collect();
    // Operands of the replaced nodes may die with them.
    let sweep: Vec<NodeId> = replaced.iter().flat_map(|&n| g.operands(n)).map(|v| v.node).collect();

    // Every read of a replaced value, as (edge, consumer, slot, new result index).
    let mut moves = vec![];
    for &(old, i) in &rw.replaces {
        for e in g.g.edges_directed(old.node, Direction::Outgoing) {
            // `at`'s own operand edges go anyway; it must not read itself
            if e.weight().result == old.index && e.target() != at {
                moves.push((e.id(), e.target(), e.weight().slot, i));
            }
        }
    }
    let incoming: Vec<_> = g.g.edges_directed(at, Direction::Incoming).map(|e| e.id()).collect();
    for e in incoming.into_iter().chain(moves.iter().map(|m| m.0)) {
        g.g.remove_edge(e);
    }
    g.g[at] = Node {
        op: rw.op,
        results,
        name: rw.name,
    };
    for (slot, v) in rw.operands.iter().enumerate() {
        g.g.add_edge(
            v.node,
            at,
            Operand {
                slot: slot as u32,
                result: v.index,
            },
        );
    }
    for (_, consumer, slot, i) in moves {
        g.g.add_edge(at, consumer, Operand { slot, result: i });
    }
    for (v, _) in g.outputs.iter_mut() {
        if let Some(&(_, i)) = rw.replaces.iter().find(|(old, _)| old == v) {
            *v = Value { node: at, index: i };
        }
    }
    // The replaced nodes go, side effects and all: the new node has taken their effects over.
    let gone: Vec<NodeId> = replaced
        .into_iter()
        .filter(|&n| n != at && !is_read_at_all(g, n))
        .collect();
    for n in gone {
        g.g.remove_node(n);
    }
    erase_dead(g, sweep);
    Ok(at)
}

/// Whether any node or graph output reads any result of `n`.
fn is_read_at_all(g: &Graph, n: NodeId) -> bool {
    g.outputs.iter().any(|(v, _)| v.node == n) || g.g.neighbors_directed(n, Direction::Outgoing).next().is_some()
}

/// The checks of [`apply`]; returns the new node's result types.
pub fn check(g: &Graph, rw: &Rewrite) -> Result<Vec<TensorType>, String> {
    for v in rw.operands.iter().chain(rw.replaces.iter().map(|(v, _)| v)) {
        if !exists(g, *v) {
            return Err(format!("value #{}.{} does not exist", v.node.index(), v.index));
        }
    }
    let tys: Vec<&TensorType> = rw.operands.iter().map(|v| g.ty(*v)).collect();
    let results = infer(&rw.op, &tys).map_err(|e| format!("the new {} does not type: {e}", rw.op.name()))?;
    for &(old, i) in &rw.replaces {
        match results.get(i as usize) {
            Some(t) if t == g.ty(old) => {}
            Some(t) => {
                return Err(format!(
                    "result {i} of the new {} is {t}; it replaces a {}",
                    rw.op.name(),
                    g.ty(old)
                ))
            }
            None => return Err(format!("the new {} has no result {i}", rw.op.name())),
        }
    }
    let at = rw.replaces[0].0.node;
    for index in 0..g.node(at).results.len() as u32 {
        let v = Value { node: at, index };
        if is_read(g, v) && !rw.replaces.iter().any(|(old, _)| *old == v) {
            return Err(format!(
                "result {index} of the replaced {} is still read",
                g.node(at).op.name()
            ));
        }
    }
    let replaced: HashSet<NodeId> = rw.replaces.iter().map(|(v, _)| v.node).collect();
    if !rw.op.has_side_effect() && replaced.iter().any(|&n| g.node(n).op.has_side_effect()) {
        return Err(format!(
            "the new {} would drop the side effect of a node it replaces",
            rw.op.name()
        ));
    }
    if ancestors(g, rw.operands.iter().map(|v| v.node))
        .iter()
        .any(|n| replaced.contains(n))
    {
        return Err(format!(
            "the new {} would read a value it replaces (a cycle)",
            rw.op.name()
        ));
    }
    Ok(results)
}

fn exists(g: &Graph, v: Value) -> bool {
    g.g.node_weight(v.node)
        .is_some_and(|n| (v.index as usize) < n.results.len())
}

/// Whether any node or graph output reads `v`.
pub fn is_read(g: &Graph, v: Value) -> bool {
    g.outputs.iter().any(|(o, _)| *o == v)
        || g.g
            .edges_directed(v.node, Direction::Outgoing)
            .any(|e| e.weight().result == v.index)
}

/// `from` and every node they read, transitively.
fn ancestors(g: &Graph, from: impl IntoIterator<Item = NodeId>) -> HashSet<NodeId> {
    let mut seen = HashSet::new();
    let mut stack: Vec<NodeId> = from.into_iter().collect();
    while let Some(n) = stack.pop() {
        if seen.insert(n) {
            stack.extend(g.g.neighbors_directed(n, Direction::Incoming));
        }
    }
    seen
}

/// Makes every reader of `old` (graph outputs included) read `new` instead. `new` must not read
/// `old`, directly or not; the caller guarantees it (CSE: `new` comes first in topological order).
pub fn replace_all_uses(g: &mut Graph, old: Value, new: Value) {
    let moves: Vec<_> =
        g.g.edges_directed(old.node, Direction::Outgoing)
            .filter(|e| e.weight().result == old.index)
            .map(|e| (e.id(), e.target(), e.weight().slot))
            .collect();
    for (e, consumer, slot) in moves {
        g.g.remove_edge(e);
        g.g.add_edge(
            new.node,
            consumer,
            Operand {
                slot,
                result: new.index,
            },
        );
    }
    for (v, _) in g.outputs.iter_mut() {
        if *v == old {
            *v = new;
        }
    }
}

/// Replaces every result of `dup` by the same result of `keep` (same op and operands), gives
/// `keep` `dup`'s debug name if it has none, and erases `dup`.
pub fn merge(g: &mut Graph, keep: NodeId, dup: NodeId) {
    for index in 0..g.node(dup).results.len() as u32 {
        replace_all_uses(g, Value { node: dup, index }, Value { node: keep, index });
    }
    if g.node(keep).name.is_none() {
        g.node_mut(keep).name = g.node(dup).name.clone();
    }
    erase_dead(g, [dup]);
}

/// Whether a node may go: nothing reads it, it is no graph output, and it has no side effect.
fn is_dead(g: &Graph, n: NodeId) -> bool {
    g.g.node_weight(n).is_some_and(|node| !node.op.has_side_effect())
        && g.g.edges_directed(n, Direction::Outgoing).next().is_none()
        && !g.outputs.iter().any(|(v, _)| v.node == n)
}

/// Erases those of `candidates` that are dead, then whatever that leaves dead among their
/// operands, transitively. Returns how many nodes went.
pub fn erase_dead(g: &mut Graph, candidates: impl IntoIterator<Item = NodeId>) -> usize {
    let mut stack: Vec<NodeId> = candidates.into_iter().collect();
    let mut erased = 0;
    while let Some(n) = stack.pop() {
        if is_dead(g, n) {
            stack.extend(g.g.neighbors_directed(n, Direction::Incoming));
            g.g.remove_node(n);
            erased += 1;
        }
    }
    erased
}

/// Erases `nodes`, which must be read only by each other and be no graph output.
pub fn erase(g: &mut Graph, nodes: &[NodeId]) -> Result<(), String> {
    let set: HashSet<NodeId> = nodes.iter().copied().collect();
    for &n in nodes {
        if g.outputs.iter().any(|(v, _)| v.node == n) {
            return Err(format!("node #{} is a graph output", n.index()));
        }
        if g.g
            .neighbors_directed(n, Direction::Outgoing)
            .any(|u| !set.contains(&u))
        {
            return Err(format!("node #{} is read by a node that stays", n.index()));
        }
    }
    for &n in nodes {
        g.g.remove_node(n);
    }
    Ok(())
}
