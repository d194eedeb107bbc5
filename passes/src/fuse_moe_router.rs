//! `fuse-moe-router`: the routing of a MoE layer becomes one `moe_router` (one kernel instead of
//! up to nine). The front-end builds, per layer:
//!
//! ```text
//! probs   = sigmoid(logits)                    [t, E]
//! choice  = add(probs, bias)                   bias [E]: chooses experts, never weighs them
//! choice  = group_mask(choice)                 only with expert groups
//! topk    = top_k(choice)                      i32[t, k]   "ffn_moe_topk.N"
//! w       = gather(probs, topk)                [t, k]      unbiased scores of the chosen
//! w       = div(w, scale(sum(w), 1, 1e-20))    only with expert_weights_norm
//! w       = scale(w, expert_weights_scale)
//! ```
//!
//! The `moe_router`'s ids replace `topk` everywhere it is read (the expert matmuls and, when
//! routing is requested, the graph output `ffn_moe_topk.N`), its weights replace `w`. The
//! normalisation and the scale are taken in only when they are exactly what `moe_router` computes
//! and nothing else reads the value before them; otherwise they stay as ops on the router's
//! weights. A gather from anything but the unbiased scores, or a `top_k` without the bias add,
//! is not this router and is left alone.

use lingot_ir::{Graph, NodeId, Op, Value};

use crate::pattern::{arg, args2, op, readers, run_rules, single_use, uses};
use crate::{Pass, PassError, Rewrite};

pub struct FuseMoeRouter;

impl Pass for FuseMoeRouter {
    fn name(&self) -> &'static str {
        "fuse-moe-router"
    }

    fn run(&self, g: &mut Graph) -> Result<bool, PassError> {
        run_rules(self.name(), g, &[router])
    }
}

// top_k(group_mask(add(sigmoid(l), b))) + gather(sigmoid(l), top_k) [+ norm] [+ scale] -> moe_router(l, b)
fn router(g: &Graph, id: NodeId) -> Option<Rewrite> {
    let Op::TopK { k } = g.node(id).op else { return None };
    let topk = Value::from(id);
    let mut choice = arg(g, id, 0)?;
    let (mut groups, mut keep) = (1, 1);
    if let Op::GroupMask { groups: n, keep: m } = *op(g, choice) {
        (groups, keep) = (n, m);
        choice = arg(g, choice.node, 0)?;
    }
    let Op::Add = op(g, choice) else { return None };
    let (a, b) = args2(g, choice.node)?;
    let (probs, bias) = [(a, b), (b, a)]
        .into_iter()
        .find(|(p, _)| matches!(op(g, *p), Op::Sigmoid))?;
    let logits = arg(g, probs.node, 0)?;
    let gather = readers(g, topk)
        .into_iter()
        .find(|&r| matches!(g.node(r).op, Op::Gather) && g.operands(r) == [probs, topk])?;
    let mut weights = Value::from(gather);
    let norm = normalised(g, weights);
    if let Some(w) = norm {
        weights = w;
    }
    let mut scale = 1.0;
    if let Some((w, factor)) = scaled(g, weights) {
        (weights, scale) = (w, factor);
    }
    let op = Op::MoeRouter {
        groups,
        keep,
        k,
        norm: norm.is_some(),
        scale,
    };
    let name = g.node(id).name.clone();
    Some(Rewrite {
        op,
        operands: vec![logits, bias],
        name,
        replaces: vec![(topk, 0), (weights, 1)],
    })
}

// w read only by div(w, scale(sum(w, last axis), 1, 1e-20)) -> that div
fn normalised(g: &Graph, w: Value) -> Option<Value> {
    let last = g.ty(w).shape.rank().checked_sub(1)?;
    let [r1, r2] = readers(g, w)[..] else { return None };
    let (div, sum) = [(r1, r2), (r2, r1)]
        .into_iter()
        .find(|(d, _)| matches!(g.node(*d).op, Op::Div))?;
    let (num, den) = args2(g, div)?;
    let eps = Op::Scale {
        factor: 1.0,
        bias: 1e-20,
    };
    let ok = num == w
        && g.node(sum).op == (Op::Sum { axis: last })
        && *op(g, den) == eps
        && arg(g, den.node, 0) == Some(sum.into())
        && single_use(g, sum.into())
        && single_use(g, den)
        && uses(g, w) == 2;
    ok.then_some(div.into())
}

// w read only by scale(w, f, 0) -> (that scale, f)
fn scaled(g: &Graph, w: Value) -> Option<(Value, f32)> {
    let [r] = readers(g, w)[..] else { return None };
    match g.node(r).op {
        Op::Scale { factor, bias } if bias == 0.0 && single_use(g, w) => Some((r.into(), factor)),
        _ => None,
    }
}
