//! The verifier: checks that a graph is well formed and that every stored result type is what
//! shape inference gives, naming the offending node as the text form prints it
//! (`%12 = top_k "ffn_moe_topk.3"`).
//!
//! It checks, in this order: no cycles; per node in topological order the operand count
//! ([`Op::arity`]), that the operand slots are exactly `0..n`, that each operand reads an
//! existing result, the result count, and the result types; then that the outputs exist.
//! `input` and `weight` nodes declare their type: exactly one result, any type.

use petgraph::algo::tarjan_scc;
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::text::{label, quote, Numbering};
use crate::{infer, Arity, Graph, IrError, NodeId, Op, Operand, TensorType, Value};

/// Checks `g`; the error names the first defective node (or output) found.
pub fn verify(g: &Graph) -> Result<(), IrError> {
    check(g).map_err(|d| d.into_error(g))
}

/// Where a defect is: a node, or the `index`th graph output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Site {
    Node(NodeId),
    Output(usize),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Defect {
    pub site: Site,
    pub msg: String,
}

impl Defect {
    fn into_error(self, g: &Graph) -> IrError {
        let node = match self.site {
            Site::Node(id) => {
                let order = g.topo_order().ok();
                let nums = order.map(|o| Numbering::new(g, &o));
                label(g, nums.as_ref(), id)
            }
            Site::Output(i) => format!("output {}", quote(&g.outputs[i].1)),
        };
        IrError::Type { node, msg: self.msg }
    }
}

/// [`verify`] with the defect's site left as an id, for callers that map it elsewhere (the
/// parser maps it to a line).
pub(crate) fn check(g: &Graph) -> Result<(), Defect> {
    let order = g.topo_order().map_err(|id| Defect {
        site: Site::Node(node_on_cycle(g).unwrap_or(id)),
        msg: "lies on a cycle".into(),
    })?;
    let nums = Numbering::new(g, &order);
    for &id in &order {
        check_node(g, &nums, id).map_err(|msg| Defect {
            site: Site::Node(id),
            msg,
        })?;
    }
    for (i, (v, _)) in g.outputs.iter().enumerate() {
        check_output(g, &nums, *v).map_err(|msg| Defect {
            site: Site::Output(i),
            msg,
        })?;
    }
    Ok(())
}

/// The lowest-index node that lies on a cycle (`topo_order` may name one downstream of it).
fn node_on_cycle(g: &Graph) -> Option<NodeId> {
    tarjan_scc(&g.g)
        .into_iter()
        .filter(|scc| scc.len() > 1 || scc.iter().any(|&n| g.g.contains_edge(n, n)))
        .flatten()
        .min()
}

fn check_node(g: &Graph, nums: &Numbering, id: NodeId) -> Result<(), String> {
    let node = g.node(id);
    let mut edges: Vec<(NodeId, Operand)> =
        g.g.edges_directed(id, Direction::Incoming)
            .map(|e| (e.source(), *e.weight()))
            .collect();
    edges.sort_by_key(|(_, o)| o.slot);
    check_arity(&node.op, edges.len())?;
    check_slots(&edges)?;
    for (src, o) in &edges {
        let n = g.node(*src).results.len();
        if o.result as usize >= n {
            let from = label(g, Some(nums), *src);
            return Err(format!(
                "operand {} reads result {} of `{from}`, which has {n} result(s)",
                o.slot, o.result
            ));
        }
    }
    check_results(g, id, &edges)
}

fn check_arity(op: &Op, n: usize) -> Result<(), String> {
    if op.arity().accepts(n) {
        return Ok(());
    }
    let want = match op.arity() {
        Arity::Exactly(m) => format!("{m}"),
        Arity::AtLeast(m) => format!("at least {m}"),
    };
    Err(format!("{} takes {want} operand(s), got {n}", op.name()))
}

/// `edges` sorted by slot must hold the slots `0..n` once each.
fn check_slots(edges: &[(NodeId, Operand)]) -> Result<(), String> {
    for (i, (_, o)) in edges.iter().enumerate() {
        let slot = o.slot as usize;
        if slot < i {
            return Err(format!("operand slot {slot} is given twice"));
        }
        if slot > i {
            return Err(format!("operand slot {i} is missing (slots go up to {slot})"));
        }
    }
    Ok(())
}

/// The result count and types against the op and inference.
fn check_results(g: &Graph, id: NodeId, edges: &[(NodeId, Operand)]) -> Result<(), String> {
    let node = g.node(id);
    if let Op::Input { .. } | Op::Weight { .. } = node.op {
        return match node.results.len() {
            1 => Ok(()),
            n => Err(format!("{} must have exactly 1 result, has {n}", node.op.name())),
        };
    }
    if node.results.len() != node.op.num_results() {
        let (want, got) = (node.op.num_results(), node.results.len());
        return Err(format!(
            "{} has {want} result(s), the node stores {got}",
            node.op.name()
        ));
    }
    let ins: Vec<&TensorType> = edges
        .iter()
        .map(|(src, o)| &g.node(*src).results[o.result as usize])
        .collect();
    let inferred = infer::infer(&node.op, &ins)?;
    if inferred != node.results {
        return Err(format!(
            "stored result type(s) {} differ from the inferred {}",
            list(&node.results),
            list(&inferred)
        ));
    }
    Ok(())
}

fn list(tys: &[TensorType]) -> String {
    let v: Vec<String> = tys.iter().map(|t| t.to_string()).collect();
    v.join(", ")
}

fn check_output(g: &Graph, nums: &Numbering, v: Value) -> Result<(), String> {
    match g.g.node_weight(v.node) {
        None => Err(format!("refers to node #{}, which does not exist", v.node.index())),
        Some(n) if v.index as usize >= n.results.len() => Err(format!(
            "refers to result {} of `{}`, which has {} result(s)",
            v.index,
            label(g, Some(nums), v.node),
            n.results.len()
        )),
        Some(_) => Ok(()),
    }
}
