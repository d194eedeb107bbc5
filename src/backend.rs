//! Choosing the backend: `--backend auto` takes a real GPU when wgpu finds one, else the CPU.

use anyhow::Result;
use lingot_cpu::CpuBackend;
use lingot_ir::exec::{Backend, Weights};

use crate::model::{BackendKind, ModelArgs};

/// A resolved choice of backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    Cpu,
    /// wgpu on adapter `device` (None: the best one).
    Wgpu { device: Option<usize>, auto: bool },
}

pub fn open<'a>(weights: &'a dyn Weights, args: &ModelArgs, n_ctx: usize) -> Result<Box<dyn Backend + 'a>> {
    let choice = match args.backend {
        BackendKind::Cpu => BackendChoice::Cpu,
        BackendKind::Auto => BackendChoice::Wgpu { device: args.device, auto: true },
        BackendKind::Wgpu => BackendChoice::Wgpu { device: args.device, auto: false },
    };
    open_choice(weights, choice, n_ctx)
}

pub fn open_choice<'a>(weights: &'a dyn Weights, choice: BackendChoice, _n_ctx: usize) -> Result<Box<dyn Backend + 'a>> {
    match choice {
        BackendChoice::Cpu => Ok(Box::new(CpuBackend::new(weights))),
        // Until the wgpu backend is wired here, auto means the CPU.
        BackendChoice::Wgpu { auto: true, .. } => Ok(Box::new(CpuBackend::new(weights))),
        BackendChoice::Wgpu { auto: false, .. } => anyhow::bail!("the wgpu backend is not wired to the command line yet"),
    }
}
