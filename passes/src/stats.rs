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
//! the last axis is a norm and a broadcast mul) and a few take none (an `rms_norm_mul` read only by
//! mat-vecs, [`norm_folds`]; a shared expert computed as one more slot of the routed experts'
//! kernels, [`shared_expert_fold`]; router logits computed by the router's launch,
//! [`router_fold`]). This is the count on Vulkan; on other backends split decode attention
//! (over 64 keys) adds an `attention_merge` launch per layer and the router logits take a launch
//! of their own (`lingot_wgpu::AttentionMerge`: both hand results between workgroups). The count a real plan records is
//! `WgpuBackend::launches`; `tests/launch_count.rs` checks the two agree on whole models.
//! Neither counts the extra launch per chunk of a weight larger than one storage binding
//! (device-dependent).

use std::collections::BTreeMap;
use std::fmt;

use lingot_ir::{DType, Graph, NodeId, Op, Value};

use crate::memory::is_weight_view;
use crate::pattern::{is_last_axis_vector, single_use};

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
        // a shared expert folded into the routed experts' kernels takes no launch of its own,
        // nor router logits computed by the router's launch
        Op::GateUp | Op::MulMat if shared_expert_fold_of(g, id).is_some() => (1, 0),
        Op::MulMat if router_logits_fold(g, id) => (1, 0),
        // two products and a swiglu when gate and up are stored differently
        Op::MoeGateUp | Op::GateUp => match (ops.get(1), ops.get(2)) {
            (Some(gate), Some(up)) if g.ty(*gate).dtype != g.ty(*up).dtype => (1, 3),
            _ => (1, 1),
        },
        // the weighted sum adds the first two addends as it writes (a folded shared expert is
        // none of them); one add-into per further one
        Op::MoeDown => {
            let folded = usize::from(shared_expert_fold(g, id).is_some());
            (1, 1 + (ops.len() - folded).saturating_sub(6))
        }
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

/// A shared expert that lingot-wgpu computes, in a decode step, as one more slot of the routed
/// experts' kernels: `moe_gate_up` writes its silu(gate · x) * (up · x) after the routed slots of
/// each token, `moe_down` adds its down product with weight 1, and its own `gate_up` and down
/// `mul_mat` take no launch. See [`shared_expert_fold`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SharedExpertFold {
    pub moe_gate_up: NodeId,
    pub moe_down: NodeId,
    /// The shared expert's `gate_up` and down `mul_mat`.
    pub gate_up: NodeId,
    pub down: NodeId,
    /// The shared expert's weights: gate, up, down.
    pub weights: [Value; 3],
    /// The operand slot of `moe_down` that takes the down product.
    pub addend: usize,
}

/// Whether `moe_down` node `id` and its shared expert fold ([`SharedExpertFold`]):
///
/// ```text
/// h  = moe_gate_up(x, gate_exps, up_exps, ids)
/// s  = mul_mat(down_shexp, gate_up(x, gate_shexp, up_shexp))
/// id = moe_down(h, down_exps, ids, w, .., s, ..)
/// ```
///
/// with the same `x` and `ids`, each shared weight a `weight` stored and shaped as one expert of
/// its routed twin (gate and up stored alike), and `h`, the `gate_up` and `s` read only by the
/// next op of the pattern (no graph outputs).
pub fn shared_expert_fold(g: &Graph, id: NodeId) -> Option<SharedExpertFold> {
    let Op::MoeDown = g.node(id).op else { return None };
    let ops = g.operands(id);
    let (h, down_exps, ids) = (ops[0], ops[1], ops[2]);
    let Op::MoeGateUp = g.node(h.node).op else { return None };
    let [x, gate_exps, up_exps, gate_ids]: [Value; 4] = g.operands(h.node).try_into().ok()?;
    if gate_ids != ids || !single_use(g, h) || g.ty(gate_exps).dtype != g.ty(up_exps).dtype {
        return None;
    }
    let like_expert = |w: Value, experts: Value| {
        let (w_ty, e_ty) = (g.ty(w), g.ty(experts));
        matches!(g.node(w.node).op, Op::Weight { .. })
            && w_ty.dtype == e_ty.dtype
            && e_ty.shape.dims().get(1..) == Some(w_ty.shape.dims())
    };
    (4..ops.len()).find_map(|addend| {
        let s = ops[addend];
        let Op::MulMat = g.node(s.node).op else { return None };
        let [down, hs]: [Value; 2] = g.operands(s.node).try_into().ok()?;
        let Op::GateUp = g.node(hs.node).op else { return None };
        let [xs, gate, up]: [Value; 3] = g.operands(hs.node).try_into().ok()?;
        let fits = xs == x
            && single_use(g, s)
            && single_use(g, hs)
            && like_expert(down, down_exps)
            && like_expert(gate, gate_exps)
            && like_expert(up, up_exps);
        fits.then_some(SharedExpertFold {
            moe_gate_up: h.node,
            moe_down: id,
            gate_up: hs.node,
            down: s.node,
            weights: [gate, up, down],
            addend,
        })
    })
}

/// The [`shared_expert_fold`] that node `id` is part of (as its `moe_gate_up`, `moe_down`, the
/// shared expert's `gate_up` or its down `mul_mat`), if any.
pub fn shared_expert_fold_of(g: &Graph, id: NodeId) -> Option<SharedExpertFold> {
    let reader = |n: NodeId| match g.users(n).as_slice() {
        [r] => Some(*r),
        _ => None,
    };
    let moe_down = match g.node(id).op {
        Op::MoeDown => id,
        Op::MoeGateUp | Op::MulMat => reader(id)?,
        Op::GateUp => reader(reader(id)?)?,
        _ => return None,
    };
    let fold = shared_expert_fold(g, moe_down)?;
    [fold.moe_gate_up, fold.moe_down, fold.gate_up, fold.down]
        .contains(&id)
        .then_some(fold)
}

/// The `mul_mat` whose logits lingot-wgpu computes in `moe_router` node `id`'s own launch in a
/// decode step (moe_route.wgsl): the router's logits are a `mul_mat` of an f32 `weight` `[e, k]`,
/// k a multiple of 4, read by the router alone.
pub fn router_fold(g: &Graph, id: NodeId) -> Option<NodeId> {
    let Op::MoeRouter { .. } = g.node(id).op else {
        return None;
    };
    let logits = *g.operands(id).first()?;
    let Op::MulMat = g.node(logits.node).op else {
        return None;
    };
    let [w, _x]: [Value; 2] = g.operands(logits.node).try_into().ok()?;
    let w_ty = g.ty(w);
    let k = w_ty.shape.dims().get(1).and_then(|d| d.as_const());
    let folds = matches!(g.node(w.node).op, Op::Weight { .. })
        && w_ty.dtype == DType::F32
        && w_ty.shape.rank() == 2
        && k.is_some_and(|k| k % 4 == 0)
        && single_use(g, logits);
    folds.then_some(logits.node)
}

/// Whether `mul_mat` node `id` is the logits of a [`router_fold`].
pub fn router_logits_fold(g: &Graph, id: NodeId) -> bool {
    match g.users(id).as_slice() {
        [r] => router_fold(g, *r) == Some(id),
        _ => false,
    }
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
