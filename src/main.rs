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
    /// Generate text from a prompt, or chat (--chat), with llama.cpp's sampling flags.
    Run(commands::run::RunArgs),
    /// Score a text file: perplexity as llama-perplexity computes it.
    Perplexity(commands::perplexity::PerplexityArgs),
    /// Print the token ids of a text (or of a conversation, --chat) as a JSON array.
    Tokenize(commands::tokenize::TokenizeArgs),
    /// Write the logits of a token sequence (float32 .npy) and optionally the experts chosen.
    Logits(commands::logits::LogitsArgs),
    /// Print a model's IR (text or Graphviz DOT) on stdout.
    DumpIr(commands::dump_ir::DumpIrArgs),
    /// List the GPU adapters wgpu sees (the N of --device N).
    Devices,
    /// Write a GGUF shaped like a real Bailing-MoE2 model, with random weights.
    Synth(commands::synth::SynthArgs),
    /// Time prompt processing and decoding, as llama-bench does.
    Bench(commands::bench::BenchArgs),
    /// Time prompt processing and decoding at growing KV depths, as llama.cpp's sweep-bench does.
    SweepBench(commands::sweep_bench::SweepBenchArgs),
    /// Work with text IR files.
    #[command(subcommand)]
    Ir(commands::dump_ir::IrCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(commands::perplexity::expand_llama_flags(std::env::args_os()));
    let result = match cli.command {
        Command::Run(a) => commands::run::run(a),
        Command::Perplexity(a) => commands::perplexity::run(a),
        Command::Tokenize(a) => commands::tokenize::run(a),
        Command::Logits(a) => commands::logits::run(a),
        Command::DumpIr(a) => commands::dump_ir::run(a),
        Command::Devices => commands::devices::run(),
        Command::Ir(c) => commands::dump_ir::run_ir(c),
        Command::Synth(a) => commands::synth::run(a),
        Command::Bench(a) => commands::bench::run(a),
        Command::SweepBench(a) => commands::sweep_bench::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
