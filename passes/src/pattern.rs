//! Read-only helpers the rules match with, and the driver that runs a pass's rules to a fixed
//! point. Nothing here changes a graph except through [`rewrite::apply`].

use lingot_ir::{Dim, Graph, NodeId, Op, Value};
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::rewrite::{self, Rewrite};
use crate::PassError;

/// A rule: looks at one node and proposes a rewrite rooted there, or nothing.
pub type Rule = fn(&Graph, NodeId) -> Option<Rewrite>;

/// The op that computes `v`.
pub fn op(g: &Graph, v: Value) -> &Op {
    &g.node(v.node).op
}

/// Operand `i` of node `id`.
pub fn arg(g: &Graph, id: NodeId, i: usize) -> Option<Value> {
    g.operands(id).get(i).copied()
}

/// The two operands of a binary node.
pub fn args2(g: &Graph, id: NodeId) -> Option<(Value, Value)> {
    match g.operands(id)[..] {
        [a, b] => Some((a, b)),
        _ => None,
    }
}

/// How many times `v` is read: by node operands (each slot counts) and graph outputs.
pub fn uses(g: &Graph, v: Value) -> usize {
    let edges =
        g.g.edges_directed(v.node, Direction::Outgoing)
            .filter(|e| e.weight().result == v.index)
            .count();
    edges + g.outputs.iter().filter(|(o, _)| *o == v).count()
}

/// The nodes reading `v` (each once), in index order.
pub fn readers(g: &Graph, v: Value) -> Vec<NodeId> {
    let mut r: Vec<NodeId> =
        g.g.edges_directed(v.node, Direction::Outgoing)
            .filter(|e| e.weight().result == v.index)
            .map(|e| e.target())
            .collect();
    r.sort();
    r.dedup();
    r
}

/// Whether `v` is read exactly once (so fusing its producer into the reader loses nothing).
pub fn single_use(g: &Graph, v: Value) -> bool {
    uses(g, v) == 1
}

/// Whether `w` multiplies along the last axis of `x` alone: its shape is `[n]` (leading 1s
/// allowed) with `n` the last dim of `x`.
pub fn is_last_axis_vector(g: &Graph, w: Value, x: Value) -> bool {
    let dims: Vec<Dim> = g
        .ty(w)
        .shape
        .dims()
        .iter()
        .copied()
        .skip_while(|d| *d == Dim::Const(1))
        .collect();
    let last = g.ty(x).shape.last();
    g.ty(w).shape.rank() <= g.ty(x).shape.rank() && last.is_some() && dims == [last.unwrap_or(Dim::Const(0))]
}

/// `(x, w, eps)` when `v` is `rms_norm_mul(x, w)`, or `mul(rms_norm(x), w)` (either order) whose
/// norm has no other reader.
pub fn weighted_norm(g: &Graph, v: Value) -> Option<(Value, Value, f32)> {
    match *op(g, v) {
        Op::RmsNormMul { eps } => Some((arg(g, v.node, 0)?, arg(g, v.node, 1)?, eps)),
        Op::Mul => {
            let (a, b) = args2(g, v.node)?;
            [(a, b), (b, a)].into_iter().find_map(|(n, w)| match *op(g, n) {
                Op::RmsNorm { eps } if single_use(g, n) => Some((arg(g, n.node, 0)?, w, eps)),
                _ => None,
            })
        }
        _ => None,
    }
}

/// `(gate, up)` of `mul(silu(gate), up)` (either order, the silu read once) or `swiglu(gate, up)`.
pub fn swiglu_operands(g: &Graph, id: NodeId) -> Option<(Value, Value)> {
    let (a, b) = args2(g, id)?;
    match g.node(id).op {
        Op::SwiGlu => Some((a, b)),
        Op::Mul => [(a, b), (b, a)]
            .into_iter()
            .find(|(act, _)| matches!(op(g, *act), Op::Silu) && single_use(g, *act))
            .and_then(|(act, up)| Some((arg(g, act.node, 0)?, up))),
        _ => None,
    }
}

/// `stem.N` when `v`'s node is named `something.N` (a layer suffix), for naming a fused node
/// whose replaced node had no name.
pub fn layer_name(g: &Graph, v: Value, stem: &str) -> Option<String> {
    let name = g.node(v.node).name.as_deref()?;
    let (_, layer) = name.rsplit_once('.')?;
    layer.parse::<usize>().ok().map(|il| format!("{stem}.{il}"))
}

/// Runs `rules` on every node in topological order, applying each match, until none matches.
/// A proposal that fails [`rewrite::check`] counts as no match: rules match structure, shape
/// inference decides whether the fused op accepts these operands.
pub fn run_rules(pass: &'static str, g: &mut Graph, rules: &[Rule]) -> Result<bool, PassError> {
    let mut changed = false;
    // Rules never match what they produce, so this bound only stops a faulty rule from looping.
    for _ in 0..=g.node_count() {
        let order = g.topo_order().map_err(|n| PassError::Cycle(n.index()))?;
        let mut any = false;
        for id in order {
            if !g.g.contains_node(id) {
                continue;
            }
            let proposals = rules.iter().filter_map(|rule| rule(g, id));
            let Some(rw) = proposals.into_iter().find(|rw| rewrite::check(g, rw).is_ok()) else {
                continue;
            };
            let node = describe(g, id);
            rewrite::apply(g, rw).map_err(|msg| PassError::Rewrite { pass, node, msg })?;
            any = true;
        }
        if !any {
            break;
        }
        changed = true;
    }
    Ok(changed)
}

/// `mul "attn_norm.3"`, as errors name a node.
pub fn describe(g: &Graph, id: NodeId) -> String {
    let n = g.node(id);
    match &n.name {
        Some(name) => format!("{} \"{name}\"", n.op.name()),
        None => format!("{} (#{})", n.op.name(), id.index()),
    }
}
