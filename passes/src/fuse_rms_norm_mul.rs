//! `fuse-rms-norm-mul`: an RMSNorm followed by the multiplication with its weight becomes one
//! `rms_norm_mul`, one kernel instead of two (the model's `attn_norm`, `ffn_norm`, QK-norms and
//! output norm).
//!
//! The weight must scale the last axis alone (shape `[n]`, `n` the normalised size), which is
//! what the fused kernels implement, and the norm must have no other reader.

use lingot_ir::{Graph, NodeId, Op};

use crate::pattern::{arg, args2, is_last_axis_vector, op, run_rules, single_use};
use crate::{Pass, PassError, Rewrite};

pub struct FuseRmsNormMul;

impl Pass for FuseRmsNormMul {
    fn name(&self) -> &'static str {
        "fuse-rms-norm-mul"
    }

    fn run(&self, g: &mut Graph) -> Result<bool, PassError> {
        run_rules(self.name(), g, &[norm_times_weight])
    }
}

// mul(rms_norm(x), w) or mul(w, rms_norm(x)), w: [n] -> rms_norm_mul(x, w)
fn norm_times_weight(g: &Graph, id: NodeId) -> Option<Rewrite> {
    let Op::Mul = g.node(id).op else { return None };
    let (a, b) = args2(g, id)?;
    [(a, b), (b, a)].into_iter().find_map(|(norm, w)| {
        let Op::RmsNorm { eps } = *op(g, norm) else { return None };
        let x = arg(g, norm.node, 0)?;
        let fits = single_use(g, norm) && is_last_axis_vector(g, w, x) && g.node(id).results[0] == *g.ty(x);
        fits.then(|| Rewrite::replace(g, id, Op::RmsNormMul { eps }, vec![x, w]))
    })
}
