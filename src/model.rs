//! Loading a model for any command that runs one: the GGUF file with `--override-kv` applied,
//! its hyperparameters, the graph, and the backend chosen by `--backend` / `--device`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use lingot_ir::exec::{Backend, HostTensor};
use lingot_ir::{Bindings, Graph};
use lingot_models::bailing_moe2::{build_graph, GraphOptions, HParams};
use lingot_models::gguf::{parse_override_kv, GgufFile};
use lingot_passes::Pipeline;

/// The built-in default model: a trained 10.5M-parameter Bailing-MoE2 (five Austen novels).
pub const DEFAULT_MODEL: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/austen-Q4_K_M.gguf");

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// A real GPU through wgpu if there is one, else the CPU.
    Auto,
    Cpu,
    /// wgpu on the chosen adapter, software adapters (lavapipe) included.
    Wgpu,
}

/// Flags shared by every command that runs a model.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Model file (GGUF). Default: the built-in `austen` model.
    #[arg(short = 'm', long = "model", value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Where to run: auto (a real GPU if present, else CPU), cpu, or wgpu.
    #[arg(long, value_enum, default_value_t = BackendKind::Auto)]
    pub backend: BackendKind,
    /// wgpu adapter index, as `lingot devices` lists them.
    #[arg(long, value_name = "N")]
    pub device: Option<usize>,
    /// Override a model metadata key: KEY=TYPE:VALUE with TYPE int, float, bool or str
    /// (e.g. bailingmoe2.expert_used_count=int:4). May be repeated.
    #[arg(long = "override-kv", value_name = "KEY=TYPE:VALUE")]
    pub override_kv: Vec<String>,
    /// CPU threads (default: all cores).
    #[arg(short = 't', long = "threads", value_name = "N")]
    pub threads: Option<usize>,
    /// Graph passes to apply, comma-separated, instead of the default pipeline (`default` stands
    /// for it; `lingot dump-ir --stats` names its passes, `lingot dump-ir --after-all` shows each).
    #[arg(long, value_name = "LIST", conflicts_with = "no_fuse")]
    pub passes: Option<String>,
    /// Run the graph as the model front-end builds it: no passes, no fused ops.
    #[arg(long)]
    pub no_fuse: bool,
}

/// A loaded model: the file, its hyperparameters, and the passes its graph goes through.
pub struct Model {
    pub file: GgufFile,
    pub hp: HParams,
    pub pipeline: Pipeline,
}

impl ModelArgs {
    pub fn path(&self) -> PathBuf {
        self.model.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_MODEL))
    }

    /// Opens the model file and applies `--override-kv` and `-t`.
    pub fn load(&self) -> Result<Model> {
        if let Some(n) = self.threads {
            if n == 0 {
                bail!("-t/--threads must be at least 1");
            }
            // Fails only if the pool already exists, which is harmless.
            let _ = rayon::ThreadPoolBuilder::new().num_threads(n).build_global();
        }
        let path = self.path();
        let mut file = GgufFile::open(&path).with_context(|| format!("cannot load model {}", path.display()))?;
        for kv in &self.override_kv {
            let (key, value) = parse_override_kv(kv).map_err(|e| anyhow::anyhow!("--override-kv {kv}: {e}"))?;
            file.set_override(&key, value);
        }
        let hp = HParams::from_gguf(&file)?;
        Ok(Model {
            file,
            hp,
            pipeline: self.pipeline()?,
        })
    }

    /// The passes `--passes` / `--no-fuse` ask for (default: the default pipeline).
    pub fn pipeline(&self) -> Result<Pipeline> {
        match (&self.passes, self.no_fuse) {
            (_, true) => Ok(Pipeline::empty()),
            (Some(list), false) => Pipeline::parse(list).context("--passes"),
            (None, false) => Ok(lingot_passes::default_pipeline()),
        }
    }
}

impl Model {
    /// The model's graph after the passes of `--passes` / `--no-fuse`, verified after each.
    pub fn graph(&self, opts: GraphOptions) -> Result<Graph> {
        let mut g = self.unfused_graph(opts)?;
        self.pipeline.run_verified(&mut g)?;
        Ok(g)
    }

    /// The graph as the model front-end builds it, before any pass.
    pub fn unfused_graph(&self, opts: GraphOptions) -> Result<Graph> {
        let g = build_graph(&self.hp, &self.file, opts)?;
        lingot_ir::verify(&g).context("the model graph does not verify")?;
        Ok(g)
    }

    /// The backend `--backend` asks for (`auto`: a real GPU if there is one, else the CPU).
    pub fn backend(&self, args: &ModelArgs, n_ctx: usize) -> Result<Box<dyn Backend + '_>> {
        crate::backend::open(&self.file, args, n_ctx)
    }
}

/// The graph inputs for `tokens` at positions `n_past..`: `tokens`, `positions`, and `out_ids`
/// (the last row, which graphs built with `last_logits` compute logits for; others ignore it).
pub fn inputs(tokens: &[u32], n_past: usize) -> Vec<(&'static str, HostTensor)> {
    let t = tokens.len();
    let ids: Vec<i32> = tokens.iter().map(|&x| x as i32).collect();
    let pos: Vec<i32> = (n_past..n_past + t).map(|p| p as i32).collect();
    vec![
        (
            "tokens",
            HostTensor::I32 {
                shape: vec![t],
                data: ids,
            },
        ),
        (
            "positions",
            HostTensor::I32 {
                shape: vec![t],
                data: pos,
            },
        ),
        (
            "out_ids",
            HostTensor::I32 {
                shape: vec![1],
                data: vec![t.saturating_sub(1) as i32],
            },
        ),
    ]
}

/// Evaluates `tokens` at positions `n_past..` in one batch; returns the graph's outputs.
pub fn eval(backend: &mut dyn Backend, graph: &Graph, tokens: &[u32], n_past: usize) -> Result<Vec<HostTensor>> {
    let t = tokens.len();
    let inputs = inputs(tokens, n_past);
    Ok(backend.run(graph, &inputs, Bindings { t, kv: n_past + t })?)
}

/// Logits `[n_tokens, n_vocab]` (row-major) and, when the graph outputs routing, the experts
/// chosen per MoE layer per token.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub n_vocab: usize,
    pub logits: Vec<f32>,
    pub routing: Vec<Vec<Vec<i32>>>,
}

/// Evaluates `tokens` from position `n_past` in micro-batches of at most `ubatch` tokens through
/// the KV cache, concatenating what each batch returns.
pub fn evaluate(
    backend: &mut dyn Backend,
    graph: &Graph,
    tokens: &[u32],
    n_past: usize,
    ubatch: usize,
) -> Result<Evaluation> {
    let n_routes = graph.outputs.len() - 1;
    let mut ev = Evaluation {
        n_vocab: 0,
        logits: vec![],
        routing: vec![vec![]; n_routes],
    };
    for (i, chunk) in tokens.chunks(ubatch.max(1)).enumerate() {
        let outs = eval(backend, graph, chunk, n_past + i * ubatch.max(1))?;
        ev.n_vocab = outs[0].shape()[1];
        ev.logits
            .extend_from_slice(outs[0].as_f32().context("logits are not f32")?);
        for (layer, t) in ev.routing.iter_mut().zip(&outs[1..]) {
            let ids = t.as_i32().context("expert ids are not i32")?;
            layer.extend(ids.chunks(t.shape()[1].max(1)).map(<[i32]>::to_vec));
        }
    }
    Ok(ev)
}
