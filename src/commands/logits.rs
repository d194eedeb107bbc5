//! `lingot logits`: float32 `[n_tokens, n_vocab]` logits of a token sequence evaluated from
//! position 0 in one batch, and optionally the experts each MoE layer chose per token.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use lingot_models::bailing_moe2::GraphOptions;

use crate::model::{evaluate, ModelArgs};

#[derive(Debug, Args)]
pub struct LogitsArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Token ids, separated by spaces or commas: "50 36 45".
    #[arg(long, value_name = "\"ID ID ...\"")]
    pub tokens: String,
    /// Where to write the logits (.npy, float32 [n_tokens, n_vocab]).
    #[arg(long, value_name = "FILE.npy")]
    pub out: PathBuf,
    /// Also write the chosen expert ids per MoE layer per token (JSON).
    #[arg(long = "routing-out", value_name = "FILE.json")]
    pub routing_out: Option<PathBuf>,
}

pub fn parse_tokens(s: &str, n_vocab: usize) -> Result<Vec<u32>> {
    let ids = s
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let id: u32 = p
                .parse()
                .with_context(|| format!("--tokens: \"{p}\" is not a token id"))?;
            if id as usize >= n_vocab {
                bail!("--tokens: id {id} is outside the vocabulary (0..{n_vocab})");
            }
            Ok(id)
        })
        .collect::<Result<Vec<_>>>()?;
    if ids.is_empty() {
        bail!("--tokens: no token ids given");
    }
    Ok(ids)
}

pub fn run(args: LogitsArgs) -> Result<()> {
    let model = args.model.load()?;
    let tokens = parse_tokens(&args.tokens, model.hp.vocab_size)?;
    let graph = model.graph(GraphOptions {
        routing: args.routing_out.is_some(),
        ..Default::default()
    })?;
    let mut backend = model.backend(&args.model, tokens.len())?;
    eprintln!("backend: {}", backend.name());
    let ev = evaluate(backend.as_mut(), &graph, &tokens, 0, tokens.len())?;
    lingot_models::npy::write_f32(&args.out, &[tokens.len(), ev.n_vocab], &ev.logits)?;
    if let Some(path) = &args.routing_out {
        crate::write_atomically(path, serde_json::to_string(&ev.routing)?.as_bytes())?;
    }
    eprintln!("wrote {} ({} x {})", args.out.display(), tokens.len(), ev.n_vocab);
    Ok(())
}
