//! Choosing the backend: `--backend auto` takes a real GPU when wgpu finds one, else the CPU;
//! `--backend wgpu` takes the best adapter, software ones (lavapipe) included.

use anyhow::{Context, Result};
use lingot_cpu::CpuBackend;
use lingot_ir::exec::{Backend, Weights};
use lingot_wgpu::{WgpuBackend, WgpuOptions};

use crate::model::{BackendKind, ModelArgs};

/// A resolved choice of backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendChoice {
    Cpu,
    /// wgpu on adapter `device` (None: the best one). With `auto`, no real GPU means the CPU.
    Wgpu {
        device: Option<usize>,
        auto: bool,
    },
}

impl BackendChoice {
    pub fn from_args(args: &ModelArgs) -> BackendChoice {
        match args.backend {
            BackendKind::Cpu => BackendChoice::Cpu,
            BackendKind::Auto => BackendChoice::Wgpu {
                device: args.device,
                auto: args.device.is_none(),
            },
            BackendKind::Wgpu => BackendChoice::Wgpu {
                device: args.device,
                auto: false,
            },
        }
    }
}

pub fn open<'a>(weights: &'a dyn Weights, args: &ModelArgs, n_ctx: usize) -> Result<Box<dyn Backend + 'a>> {
    open_choice(weights, BackendChoice::from_args(args), n_ctx)
}

/// Opens the chosen backend for graphs over `weights`, with KV caches of `n_ctx` positions.
pub fn open_choice<'a>(weights: &'a dyn Weights, choice: BackendChoice, n_ctx: usize) -> Result<Box<dyn Backend + 'a>> {
    let BackendChoice::Wgpu { device, auto } = choice else {
        return Ok(Box::new(CpuBackend::new(weights)));
    };
    let adapter = match lingot_wgpu::pick(auto, device) {
        Ok(Some(a)) => a,
        Ok(None) => {
            eprintln!("no GPU adapter found: running on the CPU (--backend wgpu forces a software adapter)");
            return Ok(Box::new(CpuBackend::new(weights)));
        }
        Err(e) if auto => {
            eprintln!("wgpu: {e}; running on the CPU");
            return Ok(Box::new(CpuBackend::new(weights)));
        }
        Err(e) => return Err(e).context("--backend wgpu"),
    };
    let options = WgpuOptions {
        context: n_ctx.max(1),
        ..WgpuOptions::default()
    };
    let be = WgpuBackend::new(&adapter, weights, options).context("cannot open the wgpu backend")?;
    Ok(Box::new(be))
}
