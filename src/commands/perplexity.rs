//! `lingot perplexity`: llama-perplexity's method and output. The text is tokenized whole (special
//! tokens parsed) and cut into windows of `-c` tokens; each window is evaluated from position 0 with an
//! empty KV cache, and the logits of its second half (positions n/2 .. n-2) score the next token.
//! Running values print as `[1]x,[2]y,...`, then `Final estimate: PPL = X +/- Y`.

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use lingot_ir::exec::Backend;
use lingot_ir::Graph;
use lingot_models::bailing_moe2::GraphOptions;

use crate::commands::tokenize::open_tokenizer;
use crate::model::{evaluate, Evaluation, ModelArgs};

#[derive(Debug, Args)]
pub struct PerplexityArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The text to score (UTF-8).
    #[arg(short = 'f', long = "file", value_name = "TEXT")]
    pub file: PathBuf,
    /// Window (context) size in tokens.
    #[arg(short = 'c', long = "ctx-size", value_name = "N", default_value_t = 512)]
    pub ctx_size: usize,
    /// Score only the first K windows (default: all).
    #[arg(long, value_name = "K")]
    pub chunks: Option<usize>,
    /// Logical batch size: tokens handed to the backend per call, split further by -ub.
    #[arg(short = 'b', long = "batch-size", value_name = "N", default_value_t = 2048)]
    pub batch_size: usize,
    /// Micro-batch size (written `-ub N`, as in llama.cpp); default min(512, -c).
    #[arg(long = "ubatch-size", value_name = "N")]
    pub ubatch_size: Option<usize>,
}

/// How the text is cut and evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PerplexityParams {
    /// Window size.
    pub n_ctx: usize,
    /// How many windows to score; `None`: all that fit.
    pub n_chunks: Option<usize>,
    /// Tokens evaluated per backend call.
    pub n_ubatch: usize,
}

/// The outcome: `ppl = exp(mean nll)` and llama-perplexity's error estimate.
#[derive(Debug, Clone, PartialEq)]
pub struct Perplexity {
    pub ppl: f64,
    pub err: f64,
    /// The running perplexity after each window (what `[i]x` prints).
    pub running: Vec<f64>,
    /// Negative log-likelihood of every scored token, in order.
    pub nll: Vec<f64>,
}

/// Scores `tokens` window by window. `bos`: the token that replaces the first of each window (llama.cpp
/// does so when the model asks for BOS). `on_window` sees each window's evaluation and the running
/// perplexity.
pub fn perplexity(
    backend: &mut dyn Backend,
    graph: &Graph,
    tokens: &[u32],
    bos: Option<u32>,
    params: PerplexityParams,
    on_window: &mut dyn FnMut(usize, &Evaluation, f64),
) -> Result<Perplexity> {
    let n_ctx = params.n_ctx;
    if n_ctx < 4 {
        bail!("-c {n_ctx}: a window must hold at least 4 tokens");
    }
    if tokens.len() < 2 * n_ctx {
        bail!(
            "the text is {} tokens; you need at least 2*n_ctx = {} tokens to evaluate perplexity with a context of {n_ctx} (-c)",
            tokens.len(),
            2 * n_ctx
        );
    }
    let available = tokens.len() / n_ctx;
    let n_chunks = params.n_chunks.map_or(available, |k| k.min(available));
    let first = n_ctx / 2;
    let mut out = Perplexity {
        ppl: 0.0,
        err: 0.0,
        running: vec![],
        nll: vec![],
    };
    for chunk in 0..n_chunks {
        let mut window = tokens[chunk * n_ctx..(chunk + 1) * n_ctx].to_vec();
        if let Some(bos) = bos {
            window[0] = bos;
        }
        backend.reset();
        let ev = evaluate(backend, graph, &window, 0, params.n_ubatch)?;
        for i in first..n_ctx - 1 {
            let row = &ev.logits[i * ev.n_vocab..(i + 1) * ev.n_vocab];
            out.nll
                .push(nll(row, window[i + 1]).with_context(|| format!("window {}, position {i}", chunk + 1))?);
        }
        let mean = out.nll.iter().sum::<f64>() / out.nll.len() as f64;
        out.running.push(mean.exp());
        on_window(chunk, &ev, mean.exp());
    }
    backend.reset();
    let n = out.nll.len() as f64;
    let mean = out.nll.iter().sum::<f64>() / n;
    let var = out.nll.iter().map(|x| x * x).sum::<f64>() / n - mean * mean;
    out.ppl = mean.exp();
    out.err = if var > 0.0 && n > 1.0 {
        out.ppl * (var / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    Ok(out)
}

/// `-log softmax(row)[next]`, in f64.
fn nll(row: &[f32], next: u32) -> Result<f64> {
    let Some(&target) = row.get(next as usize) else {
        bail!("token {next} is outside the model's {} logits", row.len());
    };
    let max = row.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(f64::from(x)));
    let sum: f64 = row.iter().map(|&x| (f64::from(x) - max).exp()).sum();
    Ok(max + sum.ln() - f64::from(target))
}

pub fn run(args: PerplexityArgs) -> Result<()> {
    let n_ctx = args.ctx_size;
    for (flag, value) in [
        ("-c/--ctx-size", Some(n_ctx)),
        ("-b/--batch-size", Some(args.batch_size)),
        ("-ub/--ubatch-size", args.ubatch_size),
        ("--chunks", args.chunks),
    ] {
        if value == Some(0) {
            bail!("{flag} must be at least 1");
        }
    }
    let text = std::fs::read(&args.file).with_context(|| format!("cannot read text file {}", args.file.display()))?;
    let text = String::from_utf8(text).with_context(|| format!("text file {} is not UTF-8", args.file.display()))?;
    let model = args.model.load()?;
    if n_ctx > model.hp.context_length {
        bail!(
            "-c {n_ctx} is larger than the context the model was trained for ({} tokens, {})",
            model.hp.context_length,
            args.model.path().display()
        );
    }
    let tokenizer = open_tokenizer(&model.file)?;
    let tokens = tokenizer.encode(&text, true)?;
    let bos = if tokenizer.add_bos() {
        Some(
            tokenizer
                .bos()
                .context("the model asks for BOS (add_bos_token) but names no BOS token")?,
        )
    } else {
        None
    };
    let n_ubatch = args.ubatch_size.unwrap_or(512.min(n_ctx)).min(args.batch_size);
    let params = PerplexityParams {
        n_ctx,
        n_chunks: args.chunks,
        n_ubatch,
    };
    let graph = model.graph(GraphOptions::default())?;
    let mut backend = model.backend(&args.model, n_ctx)?;
    let n_chunks = args.chunks.unwrap_or(usize::MAX).min(tokens.len() / n_ctx);
    eprintln!(
        "perplexity: {} tokens, {n_chunks} windows of {n_ctx}, micro-batches of {n_ubatch}, backend {}",
        tokens.len(),
        backend.name()
    );
    // On a terminal the bar shows the running value and the `[i]x,` line is printed at the end, so the
    // two never share a line; otherwise each value is printed as its window finishes, as llama does.
    let progress = progress_bar(n_chunks);
    let streaming = progress.is_hidden();
    let started = std::time::Instant::now();
    let result = perplexity(backend.as_mut(), &graph, &tokens, bos, params, &mut |chunk, _, ppl| {
        progress.inc(1);
        progress.set_message(format!("PPL {ppl:.4}"));
        if streaming {
            // A closed stdout is reported by the final write below.
            let mut out = std::io::stdout().lock();
            let _ = write!(out, "[{}]{ppl:.4},", chunk + 1).and_then(|()| out.flush());
        }
    });
    progress.finish_and_clear();
    let result = result?;
    let mut out = std::io::stdout().lock();
    if !streaming {
        for (i, ppl) in result.running.iter().enumerate() {
            write!(out, "[{}]{ppl:.4},", i + 1).context("cannot write to standard output")?;
        }
    }
    writeln!(out)
        .and_then(|()| writeln!(out, "Final estimate: PPL = {:.4} +/- {:.5}", result.ppl, result.err))
        .context("cannot write to standard output")?;
    eprintln!(
        "perplexity: {} tokens scored in {:.2} s",
        result.nll.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// A progress bar on stderr when it is a terminal; hidden otherwise, so logs stay clean.
fn progress_bar(len: usize) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} windows, {msg}, {elapsed} elapsed, ETA {eta}")
    {
        bar.set_style(style);
    }
    bar
}

/// llama.cpp spells the micro-batch flag `-ub`, which clap cannot take as a short flag: rewrite it (and
/// `-ub=N`) to `--ubatch-size` before parsing.
pub fn expand_llama_flags(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    args.into_iter()
        .map(|arg| match arg.to_str() {
            Some("-ub") => OsString::from("--ubatch-size"),
            Some(s) if s.starts_with("-ub=") => OsString::from(format!("--ubatch-size={}", &s[4..])),
            _ => arg,
        })
        .collect()
}
