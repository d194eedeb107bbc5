//! `fuse-gate-up`: a dense SwiGLU's gate and up products and their activation become one
//! `gate_up` (the shared expert and the leading dense layers):
//!
//! ```text
//! gate = mul_mat(w_gate, x)    up = mul_mat(w_up, x)
//! h    = mul(silu(gate), up)   or   swiglu(gate, up)     -> gate_up(x, w_gate, w_up)
//! ```
//!
//! Both products must read the same input and have no other reader.

use lingot_ir::{Graph, NodeId, Op};

use crate::pattern::{arg, op, run_rules, single_use, swiglu_operands};
use crate::{Pass, PassError, Rewrite};

pub struct FuseGateUp;

impl Pass for FuseGateUp {
    fn name(&self) -> &'static str {
        "fuse-gate-up"
    }

    fn run(&self, g: &mut Graph) -> Result<bool, PassError> {
        run_rules(self.name(), g, &[gate_up])
    }
}

// mul(silu(mul_mat(wg, x)), mul_mat(wu, x)) or swiglu(..) -> gate_up(x, wg, wu)
fn gate_up(g: &Graph, id: NodeId) -> Option<Rewrite> {
    let (gate, up) = swiglu_operands(g, id)?;
    let both = [gate, up]
        .iter()
        .all(|v| matches!(op(g, *v), Op::MulMat) && single_use(g, *v));
    let (x, xu) = (arg(g, gate.node, 1)?, arg(g, up.node, 1)?);
    if !both || x != xu {
        return None;
    }
    let mut rw = Rewrite::replace(g, id, Op::GateUp, vec![x, arg(g, gate.node, 0)?, arg(g, up.node, 0)?]);
    // "ffn_gate.0" -> "ffn_gate_up.0"
    let gate_name = g.node(gate.node).name.as_deref().and_then(|n| n.rsplit_once('.'));
    rw.name = rw
        .name
        .or_else(|| gate_name.map(|(stem, layer)| format!("{stem}_up.{layer}")));
    Some(rw)
}
