//! Graph statistics: nodes by op, and the kernel launches the wgpu lowering records for a graph
//! (one run of the graph is one decode step at `t = 1`).
//!
//! [`launches`] follows `lingot-wgpu`'s lowering (`backends/wgpu/src/lower*.rs`) op by op; it
//! has no public launch count, so this is the one place that mirrors it and must follow it when
//! it changes. Not counted: the extra launch per chunk when a weight is larger than one storage
//! binding (device-dependent; every weight of the models lingot ships fits one).

use std::collections::BTreeMap;
use std::fmt;

use lingot_ir::{Graph, NodeId, Op};

use crate::memory::is_weight_view;

/// How many nodes of each op a graph has, and the kernel launches it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpStats {
    pub nodes: usize,
    pub by_op: BTreeMap<&'static str, usize>,
    pub launches: usize,
}

pub fn op_stats(g: &Graph) -> OpStats {
    let mut by_op = BTreeMap::new();
    for id in g.g.node_indices() {
        *by_op.entry(g.node(id).op.name()).or_insert(0) += 1;
    }
    OpStats {
        nodes: g.node_count(),
        by_op,
        launches: launches(g),
    }
}

/// Kernel launches of one run of `g` on wgpu.
pub fn launches(g: &Graph) -> usize {
    g.g.node_indices().map(|id| node_launches(g, id)).sum()
}

/// Kernel launches of one node, as `lingot-wgpu` lowers it.
pub fn node_launches(g: &Graph, id: NodeId) -> usize {
    let ops = g.operands(id);
    match &g.node(id).op {
        // declared, uploaded once, or a view: no launch
        Op::Input { .. } | Op::Weight { .. } | Op::Reshape { .. } => 0,
        // a slice of a weight is a view; of an activation, a copy
        Op::Slice { .. } => usize::from(!ops.first().is_some_and(|v| is_weight_view(g, *v))),
        // two expert products and a swiglu when gate and up are stored differently
        Op::MoeGateUp => match (ops.get(1), ops.get(2)) {
            (Some(gate), Some(up)) if g.ty(*gate).dtype != g.ty(*up).dtype => 3,
            _ => 1,
        },
        // the weighted sum, then one add-into per addend
        Op::MoeDown => 1 + ops.len().saturating_sub(4),
        // a weight that scales more than the last axis: norm, then a broadcast mul
        Op::RmsNormMul { .. } => match (ops.first(), ops.get(1)) {
            (Some(x), Some(w)) if !crate::pattern::is_last_axis_vector(g, *w, *x) => 2,
            _ => 1,
        },
        Op::GetRows
        | Op::MulMat
        | Op::MulMatId
        | Op::Add
        | Op::Mul
        | Op::Div
        | Op::Scale { .. }
        | Op::Silu
        | Op::Sigmoid
        | Op::SoftMax
        | Op::RmsNorm { .. }
        | Op::Rope { .. }
        | Op::Argsort { .. }
        | Op::TopK { .. }
        | Op::GroupMask { .. }
        | Op::Gather
        | Op::Sum { .. }
        | Op::KvWrite { .. }
        | Op::Attention { .. }
        | Op::SwiGlu
        | Op::MoeRouter { .. } => 1,
    }
}

impl fmt::Display for OpStats {
    /// `nodes: N`, `kernel launches per decode token: N`, `ops:`, then `  name  count` by name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "nodes: {}", self.nodes)?;
        writeln!(f, "kernel launches per decode token: {}", self.launches)?;
        writeln!(f, "ops:")?;
        for (op, n) in &self.by_op {
            writeln!(f, "  {op:<14} {n:>6}")?;
        }
        Ok(())
    }
}
