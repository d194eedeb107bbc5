//! `lingot dump-ir` prints a model's IR before and after graph passes (text or DOT), or its
//! statistics; `lingot ir check` parses, verifies and reprints a file.
//!
//! stdout carries only the IR, the DOT or the statistics; everything else goes to stderr.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use lingot_ir::{Bindings, Graph, Shape, TensorType};
use lingot_models::bailing_moe2::{build_graph_with, GraphOptions, HParams};
use lingot_models::synth::{FileType, Plan, Preset};
use lingot_passes::memory::plan_memory;
use lingot_passes::stats::{launches, launches_wgpu, op_stats};
use lingot_passes::Pipeline;

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
    /// Build a released model's graph from its shapes instead of a file (as `lingot synth
    /// --preset` lays it out, stored as --preset-type): ling-mini-2.0, ling-flash-2.0, ling-1t.
    #[arg(long, value_name = "NAME", conflicts_with = "model")]
    pub preset: Option<String>,
    /// The llama-quantize type of --preset's weights.
    #[arg(long, value_name = "TYPE", default_value = "Q4_K_M", requires = "preset")]
    pub preset_type: String,
    /// Print the graph right after this pass of the pipeline (--passes, else the default one).
    #[arg(long, value_name = "PASS", conflicts_with = "after_all")]
    pub after: Option<String>,
    /// Print the graph before the passes, then after each pass under a `; after <pass>` comment.
    #[arg(long)]
    pub after_all: bool,
    /// Output format: the text IR (parseable by `lingot ir check`) or Graphviz DOT.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Print statistics instead of the graph, before and after the passes: ops by kind, kernel
    /// launches (as the wgpu backend lowers the graph), planned activation memory.
    #[arg(long)]
    pub stats: bool,
    /// The batch (tokens, = cached positions) of the prefill memory figure of --stats.
    #[arg(long, value_name = "N", default_value_t = 512)]
    pub stats_batch: usize,
    /// The context (cached positions) of the decode memory figure of --stats.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub stats_ctx: usize,
}

/// Each weight's stored type, by GGUF name.
type WeightTypes = Box<dyn Fn(&str) -> Option<TensorType>>;

/// Where the graph comes from: hyperparameters and each weight's stored type.
struct Source {
    label: String,
    hp: HParams,
    types: WeightTypes,
}

impl Source {
    fn graph(&self, hp: &HParams) -> Result<Graph> {
        let g = build_graph_with(hp, GraphOptions::default(), &self.types)?;
        lingot_ir::verify(&g).context("the model graph does not verify")?;
        Ok(g)
    }
}

pub fn run(args: DumpIrArgs) -> Result<()> {
    let src = source(&args)?;
    let mut graph = src.graph(&src.hp)?;
    eprintln!("{}: {} nodes before passes", src.label, graph.node_count());
    let explicit = args.model.passes.is_some() || args.after.is_some() || args.after_all;
    let pipeline = args.model.pipeline()?;
    if args.stats {
        return print_stats(&args, &src, graph, pipeline);
    }
    let show = |g: &Graph| match args.format {
        Format::Text => lingot_ir::print(g),
        Format::Dot => lingot_ir::to_dot(g),
    };
    let header = |what: &str| match args.format {
        Format::Text => format!("; {what}\n"),
        Format::Dot => format!("// {what}\n"),
    };
    if !explicit || args.model.no_fuse {
        print!("{}", show(&graph));
    } else if args.after_all {
        print!("{}{}", header("before passes"), show(&graph));
        pipeline.run_each(&mut graph, true, |pass, g| {
            print!("{}{}", header(&format!("after {pass}")), show(g))
        })?;
    } else if let Some(want) = &args.after {
        if !pipeline.names().contains(&want.as_str()) {
            bail!(
                "--after {want}: no such pass in the pipeline ({})",
                pipeline.names().join(",")
            );
        }
        let mut shown = false;
        pipeline.run_each(&mut graph, true, |pass, g| {
            if pass == want && !shown {
                print!("{}", show(g));
                shown = true;
            }
        })?;
    } else {
        pipeline.run_verified(&mut graph)?;
        print!("{}", show(&graph));
    }
    Ok(())
}

fn source(args: &DumpIrArgs) -> Result<Source> {
    if let Some(name) = &args.preset {
        return preset_source(name, &args.preset_type);
    }
    let model = args.model.load()?;
    let hp = model.hp.clone();
    let types = move |name: &str| {
        let t = model.file.tensor(name)?;
        Some(TensorType::new(t.dtype, Shape::new(t.shape.iter().map(|&d| d.into()))))
    };
    Ok(Source {
        label: args.model.path().display().to_string(),
        hp,
        types: Box::new(types),
    })
}

/// A released model's hyperparameters and weight types, from `lingot synth`'s layout of it.
fn preset_source(name: &str, ftype: &str) -> Result<Source> {
    let preset = Preset::from_name(name).with_context(|| {
        let names: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
        format!("--preset {name}: unknown preset (choose one of {})", names.join(", "))
    })?;
    let ftype_ = FileType::from_name(ftype).with_context(|| {
        let names: Vec<&str> = FileType::ALL.iter().map(|t| t.name()).collect();
        format!(
            "--preset-type {ftype}: unsupported type (choose one of {})",
            names.join(", ")
        )
    })?;
    let plan = Plan::new(preset, ftype_, None)?;
    let s = &plan.shapes;
    let hp = HParams {
        block_count: s.block_count,
        context_length: s.context_length,
        embedding_length: s.embedding_length,
        feed_forward_length: s.feed_forward_length,
        head_count: s.head_count,
        head_count_kv: s.head_count_kv,
        key_length: s.head_dim,
        value_length: s.head_dim,
        rms_eps: s.rms_eps,
        rope_freq_base: s.rope_freq_base,
        rope_dimension_count: s.rope_dimension_count,
        rope_freq_scale: 1.0,
        leading_dense_block_count: s.leading_dense_block_count,
        vocab_size: s.vocab_size,
        expert_count: s.expert_count,
        expert_used_count: s.expert_used_count,
        expert_shared_count: s.expert_shared_count,
        expert_feed_forward_length: s.expert_feed_forward_length,
        shared_feed_forward_length: s.shared_feed_forward_length(),
        expert_group_count: s.expert_group_count,
        expert_group_used_count: s.expert_group_used_count,
        expert_weights_scale: s.expert_weights_scale,
        expert_weights_norm: s.expert_weights_norm,
    };
    let types: std::collections::HashMap<String, TensorType> = plan
        .tensors
        .iter()
        .map(|t| {
            // ggml dims are contiguous-first; IR shapes outermost-first
            let dims = t.dims.iter().rev().map(|&d| (d as usize).into());
            (t.name.clone(), TensorType::new(t.dtype, Shape::new(dims)))
        })
        .collect();
    let label = format!("preset {} ({})", preset.name(), ftype_.name());
    Ok(Source {
        label,
        hp,
        types: Box::new(move |name: &str| types.get(name).cloned()),
    })
}

/// Statistics of the graph before the passes and after `pipeline` (the one `--passes` /
/// `--no-fuse` chose: with `--no-fuse` it is empty, and the graph before passes is the one that
/// runs, so there is no second section).
fn print_stats(args: &DumpIrArgs, src: &Source, mut graph: Graph, pipeline: Pipeline) -> Result<()> {
    println!("; {}", src.label);
    println!("; before passes");
    stats_section(args, src, &graph, &Pipeline::empty())?;
    if pipeline.is_empty() {
        return Ok(());
    }
    pipeline.run_verified(&mut graph)?;
    println!();
    println!("; after {}", pipeline.names().join(","));
    stats_section(args, src, &graph, &pipeline)
}

fn stats_section(args: &DumpIrArgs, src: &Source, g: &Graph, pipeline: &Pipeline) -> Result<()> {
    let stats = op_stats(g);
    println!("nodes: {}", stats.nodes);
    println!("kernel launches per decode token: {}", stats.launches_wgpu);
    let per_layer = layer_launches(src, pipeline)?;
    println!("kernel launches per layer: {}", per_layer.describe(|c| c.1));
    println!(
        "one launch per computing op: {} ({})",
        stats.launches,
        per_layer.describe(|c| c.0)
    );
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    for (what, t, kv) in [
        ("decode", 1, args.stats_ctx),
        ("prefill", args.stats_batch, args.stats_batch),
    ] {
        let plan = plan_memory(g, Bindings { t, kv })?;
        println!(
            "activation memory, {what} (t = {t}, kv = {kv}): {:.2} MiB in {} buffers (peak live {:.2} MiB)",
            mib(plan.total_bytes),
            plan.buffers.len(),
            mib(plan.peak_live_bytes)
        );
    }
    println!("ops:");
    for (op, n) in &stats.by_op {
        println!("  {op:<14} {n:>6}");
    }
    Ok(())
}

/// Kernel launches `(one per computing op, as lingot-wgpu lowers it)` outside the layers, of a leading dense layer
/// and of a MoE layer.
struct LayerLaunches {
    outside: (usize, usize),
    dense: Option<(usize, usize)>,
    moe: Option<(usize, usize)>,
}

impl LayerLaunches {
    /// `dense 8, MoE 12; outside the layers: 3` for one of the two counts.
    fn describe(&self, pick: impl Fn((usize, usize)) -> usize) -> String {
        let mut parts = vec![];
        if let Some(c) = self.dense {
            parts.push(format!("dense {}", pick(c)));
        }
        if let Some(c) = self.moe {
            parts.push(format!("MoE {}", pick(c)));
        }
        format!("{}; outside the layers: {}", parts.join(", "), pick(self.outside))
    }
}

/// Launches per layer, from graphs of the same model cut to fewer layers.
fn layer_launches(src: &Source, pipeline: &Pipeline) -> Result<LayerLaunches> {
    let count = |layers: usize| -> Result<(usize, usize)> {
        let mut hp = src.hp.clone();
        hp.block_count = layers;
        let mut g = src.graph(&hp)?;
        pipeline.run(&mut g)?;
        Ok((launches(&g), launches_wgpu(&g)))
    };
    let minus = |a: (usize, usize), b: (usize, usize)| (a.0.saturating_sub(b.0), a.1.saturating_sub(b.1));
    let (n, n_dense) = (src.hp.block_count, src.hp.leading_dense_block_count);
    let outside = count(0)?;
    let dense = if n_dense >= 1 && n >= 1 {
        Some(minus(count(1)?, outside))
    } else {
        None
    };
    let moe = if n > n_dense {
        Some(minus(count(n)?, count(n - 1)?))
    } else {
        None
    };
    Ok(LayerLaunches { outside, dense, moe })
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
