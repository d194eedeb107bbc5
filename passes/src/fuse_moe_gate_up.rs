//! `fuse-moe-gate-up`: the gate and up products of the chosen experts and their SwiGLU become
//! one `moe_gate_up` (one kernel reads each chosen expert's gate and up rows once, instead of two
//! expert matmuls and an elementwise op):
//!
//! ```text
//! x3   = reshape(x) [t, 1, K]
//! gate = mul_mat_id(gate_exps, x3, ids)        [t, k, N]
//! up   = mul_mat_id(up_exps, x3, ids)          [t, k, N]
//! h    = mul(silu(gate), up)   or   swiglu(gate, up)
//! ```
//!
//! Gate and up must read the same input and ids, and nothing else may read the two products
//! (fusing would compute them twice).

use lingot_ir::{Dim, Graph, NodeId, Op, Value};

use crate::pattern::{arg, layer_name, op, run_rules, single_use, swiglu_operands};
use crate::{Pass, PassError, Rewrite};

pub struct FuseMoeGateUp;

impl Pass for FuseMoeGateUp {
    fn name(&self) -> &'static str {
        "fuse-moe-gate-up"
    }

    fn run(&self, g: &mut Graph) -> Result<bool, PassError> {
        run_rules(self.name(), g, &[gate_up])
    }
}

// mul(silu(mul_mat_id(wg, x3, ids)), mul_mat_id(wu, x3, ids)), x3 = reshape(x) -> moe_gate_up(x, wg, wu, ids)
fn gate_up(g: &Graph, id: NodeId) -> Option<Rewrite> {
    let (gate, up) = swiglu_operands(g, id)?;
    let ([wg, x3, ids], [wu, x3u, idsu]) = (expert_product(g, gate)?, expert_product(g, up)?);
    if x3 != x3u || ids != idsu || !single_use(g, gate) || !single_use(g, up) {
        return None;
    }
    let Op::Reshape { .. } = op(g, x3) else { return None };
    let x = arg(g, x3.node, 0)?;
    let xs = g.ty(x).shape.dims();
    if xs.len() != 2 || g.ty(x3).shape.dims() != [xs[0], Dim::Const(1), xs[1]] {
        return None;
    }
    let mut rw = Rewrite::replace(g, id, Op::MoeGateUp, vec![x, wg, wu, ids]);
    rw.name = rw.name.or_else(|| layer_name(g, gate, "ffn_moe_gate_up"));
    Some(rw)
}

/// The operands `[w, x, ids]` of a `mul_mat_id`.
fn expert_product(g: &Graph, v: Value) -> Option<[Value; 3]> {
    let Op::MulMatId = op(g, v) else { return None };
    g.operands(v.node).try_into().ok()
}
