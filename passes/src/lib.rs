//! lingot's graph passes: small, named rewrites of a [`Graph`](lingot_ir::Graph), run by name.
//!
//! - [`Pass`]: a named rewrite (`fuse-moe-router`, file `fuse_moe_router.rs`); [`Pipeline`] runs
//!   a comma-separated list of them ([`default_pipeline`] is what `lingot run` uses), with
//!   [`Pipeline::run_verified`] checking the graph after every pass.
//! - [`rewrite`]: the only place a graph's structure changes (replace a value's uses, erase dead
//!   nodes, put a new node in). A pass finds patterns with the read-only helpers of `pattern.rs`
//!   and hands each match to [`rewrite::apply`] as a [`Rewrite`]; it never touches edges itself.
//! - Passes: `dce`, `cse`, `fuse-rms-norm-mul`, `fuse-qkv-norm-rope`, `fuse-moe-router`,
//!   `fuse-moe-gate-up`, `fuse-gate-up`, `fuse-swiglu`, `fuse-moe-down`, `fuse-mul-mat-add`.
//! - Analyses that change nothing: [`memory::plan_memory`] (activation buffers by liveness) and
//!   [`stats`] (op counts, kernel launches).
//!
//! What must not live here: anything that needs a backend or a model file.

mod cse;
mod dce;
mod fuse_gate_up;
mod fuse_moe_down;
mod fuse_moe_gate_up;
mod fuse_moe_router;
mod fuse_mul_mat_add;
mod fuse_qkv_norm_rope;
mod fuse_rms_norm_mul;
mod fuse_swiglu;
pub mod memory;
mod pattern;
mod pipeline;
pub mod rewrite;
pub mod stats;

use lingot_ir::{Graph, IrError};

pub use pipeline::{default_pipeline, known_passes, Pipeline, DEFAULT_PIPELINE};
pub use rewrite::Rewrite;

/// A named graph rewrite.
pub trait Pass {
    /// The kebab-case name pipelines use (`fuse-moe-router`).
    fn name(&self) -> &'static str;
    /// Rewrites `g`; returns whether anything changed.
    fn run(&self, g: &mut Graph) -> Result<bool, PassError>;
}

/// What went wrong choosing or running passes.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error("unknown pass \"{name}\"; the passes are: {known}")]
    UnknownPass { name: String, known: String },
    #[error("pass {pass}: rewriting {node}: {msg}")]
    Rewrite {
        pass: &'static str,
        node: String,
        msg: String,
    },
    #[error("the graph has a cycle through node #{0}")]
    Cycle(usize),
    #[error("the graph does not verify {when}: {source}")]
    Verify {
        when: String,
        #[source]
        source: IrError,
    },
}
