//! Passes by name, and the pipeline that runs a list of them. The whole default pipeline is the
//! one string [`DEFAULT_PIPELINE`].

use lingot_ir::Graph;

use crate::cse::Cse;
use crate::dce::Dce;
use crate::fuse_gate_up::FuseGateUp;
use crate::fuse_moe_down::FuseMoeDown;
use crate::fuse_moe_gate_up::FuseMoeGateUp;
use crate::fuse_moe_router::FuseMoeRouter;
use crate::fuse_mul_mat_add::FuseMulMatAdd;
use crate::fuse_qkv_norm_rope::FuseQkvNormRope;
use crate::fuse_rms_norm_mul::FuseRmsNormMul;
use crate::fuse_swiglu::FuseSwiglu;
use crate::{Pass, PassError};

/// What `lingot run`, `logits` and `perplexity` apply unless told otherwise: `dce` first so the
/// others see only live nodes, then the fusions, then `dce` to sweep. Each fusion matches the
/// fused as well as the unfused form of what it reads, so their order rarely matters. Where it
/// does: `fuse-moe-down` must take the MoE layer's adds as addends before `fuse-mul-mat-add`
/// would take the shared expert's down projection and its add.
pub const DEFAULT_PIPELINE: &str = "dce,cse,fuse-rms-norm-mul,fuse-qkv-norm-rope,fuse-moe-router,fuse-moe-gate-up,\
fuse-gate-up,fuse-swiglu,fuse-moe-down,fuse-mul-mat-add,dce";

/// Makes a pass.
type Make = fn() -> Box<dyn Pass>;

/// Every pass, by name.
const PASSES: [(&str, Make); 10] = [
    ("dce", || Box::new(Dce)),
    ("cse", || Box::new(Cse)),
    ("fuse-rms-norm-mul", || Box::new(FuseRmsNormMul)),
    ("fuse-qkv-norm-rope", || Box::new(FuseQkvNormRope)),
    ("fuse-swiglu", || Box::new(FuseSwiglu)),
    ("fuse-gate-up", || Box::new(FuseGateUp)),
    ("fuse-moe-router", || Box::new(FuseMoeRouter)),
    ("fuse-moe-gate-up", || Box::new(FuseMoeGateUp)),
    ("fuse-moe-down", || Box::new(FuseMoeDown)),
    ("fuse-mul-mat-add", || Box::new(FuseMulMatAdd)),
];

/// The names [`Pipeline::parse`] accepts.
pub fn known_passes() -> Vec<&'static str> {
    PASSES.iter().map(|(n, _)| *n).collect()
}

/// The pipeline of [`DEFAULT_PIPELINE`].
pub fn default_pipeline() -> Pipeline {
    Pipeline::parse(DEFAULT_PIPELINE).expect("the default pipeline names known passes")
}

/// Passes to run in order.
pub struct Pipeline {
    passes: Vec<Box<dyn Pass>>,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Pipeline({})", self.names().join(","))
    }
}

impl Pipeline {
    /// No passes: the graph as the front-end built it.
    pub fn empty() -> Pipeline {
        Pipeline { passes: vec![] }
    }

    /// `"dce, cse,fuse-moe-router"`: names separated by commas, spaces ignored; `default` stands
    /// for [`DEFAULT_PIPELINE`]. An empty list is the empty pipeline.
    pub fn parse(list: &str) -> Result<Pipeline, PassError> {
        let mut passes = vec![];
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "default" {
                passes.extend(default_pipeline().passes);
                continue;
            }
            let Some((_, make)) = PASSES.iter().find(|(n, _)| *n == name) else {
                let known = known_passes().join(", ");
                return Err(PassError::UnknownPass {
                    name: name.into(),
                    known: format!("{known} (or default)"),
                });
            };
            passes.push(make());
        }
        Ok(Pipeline { passes })
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.passes.iter().map(|p| p.name()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.passes.is_empty()
    }

    /// Runs every pass; returns whether any changed the graph.
    pub fn run(&self, g: &mut Graph) -> Result<bool, PassError> {
        self.run_each(g, false, |_, _| {})
    }

    /// [`Pipeline::run`], verifying the graph before the first pass and after every pass.
    pub fn run_verified(&self, g: &mut Graph) -> Result<bool, PassError> {
        self.run_each(g, true, |_, _| {})
    }

    /// Runs every pass, calling `after(pass name, graph)` after each (`dump-ir --after-all`);
    /// with `verify`, checks the graph before the first pass and after each.
    pub fn run_each(
        &self,
        g: &mut Graph,
        verify: bool,
        mut after: impl FnMut(&str, &Graph),
    ) -> Result<bool, PassError> {
        let check = |g: &Graph, when: String| lingot_ir::verify(g).map_err(|source| PassError::Verify { when, source });
        if verify {
            check(g, "before the passes".into())?;
        }
        let mut changed = false;
        for p in &self.passes {
            changed |= p.run(g)?;
            if verify {
                check(g, format!("after {}", p.name()))?;
            }
            after(p.name(), g);
        }
        Ok(changed)
    }
}
