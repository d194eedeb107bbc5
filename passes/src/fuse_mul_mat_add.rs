//! `fuse-mul-mat-add`: a projection followed by the residual add becomes one `mul_mat_add` (the
//! attention output and the dense FFN's down projection, each plus the layer's residual).
//!
//! The add must not broadcast (the addend has the product's type) and nothing else may read the
//! product. Run it after `fuse-moe-down`, which takes the MoE layer's adds as its addends.

use lingot_ir::{Graph, NodeId, Op};

use crate::pattern::{arg, args2, op, run_rules, single_use};
use crate::{Pass, PassError, Rewrite};

pub struct FuseMulMatAdd;

impl Pass for FuseMulMatAdd {
    fn name(&self) -> &'static str {
        "fuse-mul-mat-add"
    }

    fn run(&self, g: &mut Graph) -> Result<bool, PassError> {
        run_rules(self.name(), g, &[product_plus])
    }
}

// add(mul_mat(w, x), a) or add(a, mul_mat(w, x)) -> mul_mat_add(w, x, a)
fn product_plus(g: &Graph, id: NodeId) -> Option<Rewrite> {
    let Op::Add = g.node(id).op else { return None };
    let (p, q) = args2(g, id)?;
    [(p, q), (q, p)].into_iter().find_map(|(prod, a)| {
        let fits = matches!(op(g, prod), Op::MulMat) && single_use(g, prod) && g.ty(a) == g.ty(prod);
        let operands = vec![arg(g, prod.node, 0)?, arg(g, prod.node, 1)?, a];
        fits.then(|| Rewrite::replace(g, id, Op::MulMatAdd, operands))
    })
}
