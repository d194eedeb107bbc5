//! `fuse-swiglu`: `silu(a) * b` becomes one `swiglu(a, b)` (the dense FFN and the shared
//! expert; the routed experts' SwiGLU goes into `moe_gate_up` instead, see `fuse-moe-gate-up`).
//! The `silu` must have no other reader.

use lingot_ir::{Graph, NodeId, Op};

use crate::pattern::{arg, args2, op, run_rules, single_use};
use crate::{Pass, PassError, Rewrite};

pub struct FuseSwiglu;

impl Pass for FuseSwiglu {
    fn name(&self) -> &'static str {
        "fuse-swiglu"
    }

    fn run(&self, g: &mut Graph) -> Result<bool, PassError> {
        run_rules(self.name(), g, &[silu_times])
    }
}

// mul(silu(a), b) or mul(b, silu(a)) -> swiglu(a, b)
fn silu_times(g: &Graph, id: NodeId) -> Option<Rewrite> {
    let Op::Mul = g.node(id).op else { return None };
    let (x, y) = args2(g, id)?;
    [(x, y), (y, x)].into_iter().find_map(|(act, b)| {
        let (Op::Silu, true) = (op(g, act), single_use(g, act)) else {
            return None;
        };
        let a = arg(g, act.node, 0)?;
        Some(Rewrite::replace(g, id, Op::SwiGlu, vec![a, b]))
    })
}
