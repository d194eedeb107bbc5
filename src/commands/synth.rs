//! `lingot synth`: writes a GGUF with the tensors, types and metadata of a Bailing-MoE2 model
//! (`--preset`) and random weights, or lists what it would write (`--dry-run`).

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lingot_models::synth::{FileType, Plan, Preset};

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// ling-mini-2.0, ling-flash-2.0, ling-1t, or tiny (a small model for tests).
    #[arg(long, value_name = "NAME")]
    pub preset: String,
    /// F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q4_K_M, Q5_K, Q5_K_M or Q6_K (_M: llama-quantize's mix).
    #[arg(long = "type", value_name = "TYPE")]
    pub ftype: String,
    /// Where to write the GGUF.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Keep only the first N blocks (the leading dense ones stay).
    #[arg(long, value_name = "N")]
    pub layers: Option<usize>,
    /// Print the tensor list, the tensor and parameter counts, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Seed of the random weights: the same seed writes the same file.
    #[arg(long, value_name = "N", default_value_t = 42)]
    pub seed: u64,
}

fn parse(args: &SynthArgs) -> Result<Plan> {
    let preset = Preset::from_name(&args.preset).with_context(|| {
        let names: Vec<&str> = Preset::ALL.iter().map(|p| p.name()).collect();
        format!(
            "--preset {}: unknown preset (choose one of {})",
            args.preset,
            names.join(", ")
        )
    })?;
    let ftype = FileType::from_name(&args.ftype).with_context(|| {
        let names: Vec<&str> = FileType::ALL.iter().map(|t| t.name()).collect();
        format!(
            "--type {}: unsupported type (choose one of {})",
            args.ftype,
            names.join(", ")
        )
    })?;
    Ok(Plan::new(preset, ftype, args.layers)?)
}

pub fn run(args: SynthArgs) -> Result<()> {
    let plan = parse(&args)?;
    if args.dry_run {
        print_plan(&plan);
        return Ok(());
    }
    let Some(path) = &args.output else {
        bail!("-o FILE is required (or --dry-run to only list the tensors)");
    };
    let total = plan.n_bytes();
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}")
            .context("progress bar template")?
            .progress_chars("=> "),
    );
    bar.set_message(format!("synth {} {}", plan.preset, plan.ftype));
    let start = Instant::now();
    let result = plan.write(path, args.seed, &mut |n| bar.inc(n));
    bar.finish_and_clear();
    result.with_context(|| format!("cannot write {}", path.display()))?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "wrote {}: {} tensors, {} parameters, {:.2} GiB in {secs:.1} s ({:.0} MiB/s)",
        path.display(),
        plan.tensors.len(),
        billions(plan.n_params()),
        total as f64 / GIB,
        total as f64 / (1 << 20) as f64 / secs.max(1e-9)
    );
    Ok(())
}

const GIB: f64 = (1u64 << 30) as f64;

/// `16.26B`, or `0.41M` for a model under a billion parameters.
fn billions(n: u64) -> String {
    if n >= 1_000_000_000 {
        format!("{:.2}B", n as f64 / 1e9)
    } else {
        format!("{:.2}M", n as f64 / 1e6)
    }
}

fn print_plan(plan: &Plan) {
    for t in &plan.tensors {
        let dims: Vec<String> = t.dims.iter().map(u64::to_string).collect();
        println!("{:<34} {:<5} {{{}}}", t.name, t.dtype.ggml_name(), dims.join(", "));
    }
    println!("{} tensors", plan.tensors.len());
    println!("{} parameters ({})", billions(plan.n_params()), plan.n_params());
    println!("{:.2} GiB of tensor data", plan.n_bytes() as f64 / GIB);
}
