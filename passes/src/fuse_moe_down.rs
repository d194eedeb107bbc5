//! `fuse-moe-down`: the down products of the chosen experts, weighted by the routing weights and
//! summed over the experts, become one `moe_down`; then every `add` of a value of the same type
//! to it (the shared expert's output, the layer's residual) is taken in as an addend:
//!
//! ```text
//! d   = mul_mat_id(down_exps, h, ids)          [t, k, N]
//! y   = reshape(sum(mul(d, reshape(w) [t, k, 1]), axis 1)) [t, N]
//! out = add(add(y, shared), residual)
//!   -> moe_down(h, down_exps, ids, w, shared, residual)
//! ```
//!
//! Each intermediate must have no other reader. An `add` that broadcasts is not taken in.

use lingot_ir::{Dim, Graph, NodeId, Op, Value};

use crate::pattern::{arg, args2, op, run_rules, single_use};
use crate::{Pass, PassError, Rewrite};

pub struct FuseMoeDown;

impl Pass for FuseMoeDown {
    fn name(&self) -> &'static str {
        "fuse-moe-down"
    }

    fn run(&self, g: &mut Graph) -> Result<bool, PassError> {
        run_rules(self.name(), g, &[weighted_sum, addend])
    }
}

// reshape(sum(mul(mul_mat_id(wd, h, ids), reshape(w) [t, k, 1]), axis 1)) -> moe_down(h, wd, ids, w)
fn weighted_sum(g: &Graph, id: NodeId) -> Option<Rewrite> {
    let Op::Reshape { .. } = g.node(id).op else { return None };
    let sum = arg(g, id, 0)?;
    let (Op::Sum { axis: 1 }, true) = (op(g, sum), single_use(g, sum)) else {
        return None;
    };
    let prod = arg(g, sum.node, 0)?;
    let (Op::Mul, true) = (op(g, prod), single_use(g, prod)) else {
        return None;
    };
    let (a, b) = args2(g, prod.node)?;
    let (d, w3) = [(a, b), (b, a)]
        .into_iter()
        .find(|(d, w3)| matches!((op(g, *d), op(g, *w3)), (Op::MulMatId, Op::Reshape { .. })) && single_use(g, *d))?;
    let [wd, h, ids]: [Value; 3] = g.operands(d.node).try_into().ok()?;
    let w = arg(g, w3.node, 0)?;
    let mut column = g.ty(w).shape.dims().to_vec();
    column.push(Dim::Const(1));
    if g.ty(w3).shape.dims() != column {
        return None;
    }
    let mut rw = Rewrite::replace(g, id, Op::MoeDown, vec![h, wd, ids, w]);
    rw.name = rw.name.or_else(|| g.node(d.node).name.clone());
    Some(rw)
}

// add(moe_down(..), a) or add(a, moe_down(..)), a of the same type -> moe_down(.., a)
fn addend(g: &Graph, id: NodeId) -> Option<Rewrite> {
    let Op::Add = g.node(id).op else { return None };
    let (x, y) = args2(g, id)?;
    let (md, a) = [(x, y), (y, x)]
        .into_iter()
        .find(|(md, a)| matches!(op(g, *md), Op::MoeDown) && single_use(g, *md) && g.ty(*a) == g.ty(*md))?;
    let mut operands = g.operands(md.node);
    operands.push(a);
    let mut rw = Rewrite::replace(g, id, Op::MoeDown, operands);
    rw.name = rw.name.or_else(|| g.node(md.node).name.clone());
    Some(rw)
}
