//! `lingot dump-ir` prints a model's IR; `lingot ir check` parses, verifies and reprints a file.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use lingot_models::bailing_moe2::GraphOptions;

use crate::model::ModelArgs;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Dot,
}

#[derive(Debug, Args)]
pub struct DumpIrArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Output format: the text IR (parseable by `lingot ir check`) or Graphviz DOT.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub fn run(args: DumpIrArgs) -> Result<()> {
    let model = args.model.load()?;
    let graph = model.graph(GraphOptions::default())?;
    eprintln!("{}: {} nodes", args.model.path().display(), graph.node_count());
    match args.format {
        Format::Text => print!("{}", lingot_ir::print(&graph)),
        Format::Dot => print!("{}", lingot_ir::to_dot(&graph)),
    }
    Ok(())
}

#[derive(Debug, Subcommand)]
pub enum IrCommand {
    /// Parse and verify a text IR file, then print it back (byte for byte what `dump-ir` wrote).
    Check {
        /// The IR file.
        file: PathBuf,
    },
}

pub fn run_ir(cmd: IrCommand) -> Result<()> {
    match cmd {
        IrCommand::Check { file } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let graph = lingot_ir::parse(&text).with_context(|| format!("{}", file.display()))?;
            print!("{}", lingot_ir::print(&graph));
            Ok(())
        }
    }
}
