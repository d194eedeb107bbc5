//! The graph: nodes (an op, its result types, a debug name) on a petgraph `StableDiGraph`, whose
//! edges carry the operand slot and which result of the producer they read.
//!
//! Build with [`Graph::input`], [`Graph::weight`] and [`Graph::push`] (which infers result types);
//! passes rewrite through the helpers in `lingot-passes`, never by hand here.

use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::EdgeRef;
use petgraph::Direction;
use std::collections::BinaryHeap;
use std::fmt;

use crate::{infer, DType, IrError, Op, Shape};

pub type NodeId = NodeIndex<u32>;

/// The type of a value: element type and shape.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TensorType {
    pub dtype: DType,
    pub shape: Shape,
}

impl TensorType {
    pub fn new(dtype: DType, shape: Shape) -> TensorType {
        TensorType { dtype, shape }
    }
}

impl fmt::Display for TensorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.dtype, self.shape)
    }
}

/// One result of one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Value {
    pub node: NodeId,
    pub index: u32,
}

impl From<NodeId> for Value {
    /// The first (usually only) result of a node.
    fn from(node: NodeId) -> Value {
        Value { node, index: 0 }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub op: Op,
    pub results: Vec<TensorType>,
    /// Debug name in llama.cpp style (`ffn_moe_topk.3`), shown by the printer.
    pub name: Option<String>,
}

/// An edge: operand `slot` of the consumer reads result `result` of the producer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Operand {
    pub slot: u32,
    pub result: u32,
}

#[derive(Debug, Clone, Default)]
pub struct Graph {
    pub g: StableDiGraph<Node, Operand, u32>,
    /// The graph's outputs, each with a name (`logits`).
    pub outputs: Vec<(Value, String)>,
}

/// A structural hash: nodes (index, op, result types), edges (index, ends, operand) and outputs,
/// without debug names. A backend keys its compiled plans by it, so it is cheap enough to take
/// for every run: no text, no allocation.
impl std::hash::Hash for Graph {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        for id in self.g.node_indices() {
            let n = &self.g[id];
            id.index().hash(h);
            n.op.hash(h);
            n.results.hash(h);
        }
        for e in petgraph::visit::IntoEdgeReferences::edge_references(&self.g) {
            (e.id().index(), e.source().index(), e.target().index()).hash(h);
            e.weight().hash(h);
        }
        self.outputs.hash(h);
    }
}

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }

    /// Adds a node whose result types are given, without inference (the parser and `input` /
    /// `weight` use this; the verifier checks them later).
    pub fn add_node(&mut self, node: Node, operands: &[Value]) -> NodeId {
        let id = self.g.add_node(node);
        for (slot, v) in operands.iter().enumerate() {
            self.g.add_edge(
                v.node,
                id,
                Operand {
                    slot: slot as u32,
                    result: v.index,
                },
            );
        }
        id
    }

    pub fn input(&mut self, name: &str, ty: TensorType) -> Value {
        let node = Node {
            op: Op::Input { name: name.into() },
            results: vec![ty],
            name: None,
        };
        self.add_node(node, &[]).into()
    }

    pub fn weight(&mut self, name: &str, ty: TensorType) -> Value {
        let node = Node {
            op: Op::Weight { name: name.into() },
            results: vec![ty],
            name: None,
        };
        self.add_node(node, &[]).into()
    }

    /// Adds `op` over `operands`, inferring its result types.
    pub fn push(&mut self, op: Op, operands: &[Value]) -> Result<NodeId, IrError> {
        let types: Vec<&TensorType> = operands.iter().map(|v| self.ty(*v)).collect();
        let results = infer::infer(&op, &types).map_err(|msg| IrError::Type {
            node: format!("new {}", op.name()),
            msg,
        })?;
        Ok(self.add_node(
            Node {
                op,
                results,
                name: None,
            },
            operands,
        ))
    }

    /// [`Graph::push`] for single-result ops, naming the node.
    pub fn push_named(&mut self, op: Op, operands: &[Value], name: impl Into<String>) -> Result<Value, IrError> {
        let id = self.push(op, operands)?;
        self.g[id].name = Some(name.into());
        Ok(id.into())
    }

    pub fn node(&self, id: NodeId) -> &Node {
        &self.g[id]
    }

    pub fn node_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.g[id]
    }

    pub fn ty(&self, v: Value) -> &TensorType {
        &self.g[v.node].results[v.index as usize]
    }

    /// The operands of a node, in slot order.
    pub fn operands(&self, id: NodeId) -> Vec<Value> {
        let mut ops: Vec<(u32, Value)> = self
            .g
            .edges_directed(id, Direction::Incoming)
            .map(|e| {
                (
                    e.weight().slot,
                    Value {
                        node: e.source(),
                        index: e.weight().result,
                    },
                )
            })
            .collect();
        ops.sort_by_key(|(slot, _)| *slot);
        ops.into_iter().map(|(_, v)| v).collect()
    }

    /// Nodes that read any result of `id` (each once).
    pub fn users(&self, id: NodeId) -> Vec<NodeId> {
        let mut u: Vec<NodeId> = self.g.neighbors_directed(id, Direction::Outgoing).collect();
        u.sort();
        u.dedup();
        u
    }

    pub fn output(&mut self, v: Value, name: &str) {
        self.outputs.push((v, name.into()));
    }

    pub fn node_count(&self) -> usize {
        self.g.node_count()
    }

    /// A topological order that prefers the lowest node index among ready nodes, so a graph
    /// built (or parsed) in a topological order keeps that order: printing is stable.
    /// Returns `Err(node)` naming a node on a cycle.
    pub fn topo_order(&self) -> Result<Vec<NodeId>, NodeId> {
        let mut indeg: std::collections::HashMap<NodeId, usize> = self
            .g
            .node_indices()
            .map(|n| (n, self.g.edges_directed(n, Direction::Incoming).count()))
            .collect();
        let mut ready: BinaryHeap<std::cmp::Reverse<NodeId>> = indeg
            .iter()
            .filter(|(_, d)| **d == 0)
            .map(|(n, _)| std::cmp::Reverse(*n))
            .collect();
        let mut order = Vec::with_capacity(indeg.len());
        while let Some(std::cmp::Reverse(n)) = ready.pop() {
            order.push(n);
            for e in self.g.edges_directed(n, Direction::Outgoing) {
                let d = indeg.get_mut(&e.target()).expect("edge target is a node");
                *d -= 1;
                if *d == 0 {
                    ready.push(std::cmp::Reverse(e.target()));
                }
            }
        }
        if order.len() != indeg.len() {
            let stuck = indeg.into_iter().filter(|(_, d)| *d > 0).map(|(n, _)| n).min();
            return Err(stuck.expect("some node is left on a cycle"));
        }
        Ok(order)
    }
}
