//! The `lingot` command line.

mod backend;
mod commands;
mod model;

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

/// lingot runs Bailing-MoE2 (Ling / Ring 2.0) models from GGUF files on any wgpu GPU and on the CPU.
#[derive(Debug, Parser)]
#[command(name = "lingot", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write the logits of a token sequence (float32 .npy) and optionally the experts chosen.
    Logits(commands::logits::LogitsArgs),
    /// Print a model's IR (text or Graphviz DOT) on stdout.
    DumpIr(commands::dump_ir::DumpIrArgs),
    /// Work with text IR files.
    #[command(subcommand)]
    Ir(commands::dump_ir::IrCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Logits(a) => commands::logits::run(a),
        Command::DumpIr(a) => commands::dump_ir::run(a),
        Command::Ir(c) => commands::dump_ir::run_ir(c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Writes `bytes` to `path` through a temporary file, so a failure never leaves half a file.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    f.write_all(bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    drop(f);
    std::fs::rename(&tmp, path).with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
}
