//! The `lingot` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use lingot::commands;

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
