//! Graph statistics: nodes by op, and the kernel launches of one run of a graph (one decode step
//! at `t = 1`).
//!
//! Two counts. [`launches`]: one launch per node that computes, none for declarations (`input`,
//! `weight`) and views (`reshape`, a `slice` of a weight) — the design of the wgpu backend, where
//! every op, fused ones included, is one kernel. [`launches_wgpu`]: as `lingot-wgpu`'s
//! lowering (`backends/wgpu/src/lower*.rs`) records them for a decode step (`t = 1`), where a
//! few ops take more than one launch in uncommon forms (`moe_down` with more than two addends
//! adds each further one with its own launch; `moe_gate_up` and `gate_up` with differently stored
//! gate and up are two products and a swiglu; `rms_norm_mul` with a weight that scales more than
//! the last axis is a norm and a broadcast mul). This is the count on Vulkan; on other backends
//! split decode attention (over 64 keys) adds an `attention_merge` launch per layer
//! (`lingot_wgpu::AttentionMerge`). The count a real plan records is
//! `WgpuBackend::launches`; `tests/launch_count.rs` checks the two agree on whole models.
//! Neither counts the extra launch per chunk of a weight larger than one storage binding
//! (device-dependent).

use std::collections::BTreeMap;
use std::fmt;

use lingot_ir::{DType, Graph, NodeId, Op, Value};

use crate::memory::is_weight_view;
use crate::pattern::is_last_axis_vector;

/// How many nodes of each op a graph has, and the kernel launches it takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpStats {
    pub nodes: usize,
    pub by_op: BTreeMap<&'static str, usize>,
    /// [`launches`].
    pub launches: usize,
    /// [`launches_wgpu`].
    pub launches_wgpu: usize,
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
        launches_wgpu: launches_wgpu(g),
    }
}

/// Kernel launches of one run of `g`, one per computing op (see the module docs).
pub fn launches(g: &Graph) -> usize {
    g.g.node_indices().map(|id| node_launches(g, id).0).sum()
}

/// Kernel launches of one run of `g` as lingot-wgpu lowers it (see the module docs).
pub fn launches_wgpu(g: &Graph) -> usize {
    g.g.node_indices().map(|id| node_launches(g, id).1).sum()
}

/// `(one per computing op, as lingot-wgpu lowers it)` launches of one node.
pub fn node_launches(g: &Graph, id: NodeId) -> (usize, usize) {
    let ops = g.operands(id);
    match &g.node(id).op {
        // declared, uploaded once, or a view: no launch
        Op::Input { .. } | Op::Weight { .. } | Op::Reshape { .. } => (0, 0),
        // a slice of a weight is a view; of an activation, a copy
        Op::Slice { .. } => {
            let n = usize::from(!ops.first().is_some_and(|v| is_weight_view(g, *v)));
            (n, n)
        }
        // two products and a swiglu when gate and up are stored differently
        Op::MoeGateUp | Op::GateUp => match (ops.get(1), ops.get(2)) {
            (Some(gate), Some(up)) if g.ty(*gate).dtype != g.ty(*up).dtype => (1, 3),
            _ => (1, 1),
        },
        // the weighted sum adds the first two addends as it writes; one add-into per further one
        Op::MoeDown => (1, 1 + ops.len().saturating_sub(6)),
        // a weight that scales more than the last axis takes a norm, then a broadcast mul; a
        // norm read only by mat-vecs is folded into them
        Op::RmsNormMul { .. } => match (ops.first(), ops.get(1)) {
            (Some(x), Some(w)) if !is_last_axis_vector(g, *w, *x) => (1, 2),
            _ if norm_folds(g, id) => (1, 0),
            _ => (1, 1),
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
        | Op::MoeRouter { .. }
        | Op::QkvNormRope { .. }
        | Op::MulMatAdd => (1, 1),
    }
}

/// Products longer than this keep their norm a launch of its own: each workgroup of a folded norm
/// pays a reduction, and a long weight (the 157184-row output) has tens of thousands of them.
pub const FOLD_NORM_MAX_ROWS: usize = 16384;

/// Whether lingot-wgpu folds `rms_norm_mul` node `id` into its readers in a decode step: its rows
/// are a multiple of 16 long, its weight one f32 row, it is no graph output, and it is read only as
/// the x of mat-vecs that fold it: `mul_mat` (at most [`FOLD_NORM_MAX_ROWS`] rows), `gate_up`,
/// `moe_gate_up` with gate and up stored alike. Each such reader computes the norm itself.
pub fn norm_folds(g: &Graph, id: NodeId) -> bool {
    if !matches!(g.node(id).op, Op::RmsNormMul { .. }) {
        return false;
    }
    let ops = g.operands(id);
    let (Some(&x), Some(&w)) = (ops.first(), ops.get(1)) else {
        return false;
    };
    let value = Value { node: id, index: 0 };
    let k = g.ty(x).shape.last().and_then(|d| d.as_const());
    if k.is_none_or(|k| k % 16 != 0)
        || g.ty(w).dtype != DType::F32
        || !is_last_axis_vector(g, w, x)
        || g.outputs.iter().any(|(v, _)| *v == value)
    {
        return false;
    }
    let readers = g.users(id);
    !readers.is_empty()
        && readers.iter().all(|&reader| {
            let rops = g.operands(reader);
            // the slot the reader takes x in; it must read the norm there alone
            let x_slot = match g.node(reader).op {
                Op::MulMat
                    if g.ty(rops[0]).shape.dims()[0]
                        .as_const()
                        .is_some_and(|n| n <= FOLD_NORM_MAX_ROWS) =>
                {
                    1
                }
                Op::GateUp => 0,
                Op::MoeGateUp if g.ty(rops[1]).dtype == g.ty(rops[2]).dtype => 0,
                _ => return false,
            };
            rops.iter().enumerate().all(|(i, v)| (*v == value) == (i == x_slot))
        })
}

impl fmt::Display for OpStats {
    /// `nodes: N`, the two launch counts (lingot-wgpu's first), `ops:`, then `  name  count` by name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "nodes: {}", self.nodes)?;
        writeln!(f, "kernel launches per decode token: {}", self.launches_wgpu)?;
        writeln!(f, "one launch per computing op: {}", self.launches)?;
        writeln!(f, "ops:")?;
        for (op, n) in &self.by_op {
            writeln!(f, "  {op:<14} {n:>6}")?;
        }
        Ok(())
    }
}
