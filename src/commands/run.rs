//! `lingot run`: text generation. The prompt (or, with `--chat`, the conversation rendered by the chat
//! template) is evaluated in one batch, then tokens are sampled and fed back one at a time through the KV
//! cache ([`Session`], [`generate`]) and streamed to stdout until an end-of-generation token, `-n` tokens or
//! a full context. With `--chat` on a terminal (or `-i`), user turns are read line by line and the
//! conversation and its KV cache are kept between turns. Speeds are printed on stderr at the end.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use lingot_ir::exec::Backend;
use lingot_ir::Graph;
use lingot_models::bailing_moe2::GraphOptions;
use lingot_models::sampling::Sampler;
use lingot_models::tokenizer::{StreamDecoder, Tokenizer};
use serde_json::{json, Value as Json};

use crate::commands::sampling::SamplingArgs;
use crate::commands::tokenize::{
    chat_template, encode_prompt, open_tokenizer, read_messages, read_stdin, render_prompt,
};
use crate::model::{evaluate, ModelArgs};

/// The context size when `-c` is not given: the model's, capped to keep the KV cache small.
pub const DEFAULT_MAX_CTX: usize = 4096;

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The prompt (with --chat: the first user message). Default: standard input when it is not a terminal.
    #[arg(short = 'p', long, value_name = "TEXT")]
    pub prompt: Option<String>,
    /// Apply the chat template; on a terminal, chat interactively (one user turn per line).
    #[arg(long)]
    pub chat: bool,
    /// Start the chat from this conversation (a JSON array of {"role", "content"} messages).
    #[arg(long, value_name = "MESSAGES.json")]
    pub messages: Option<PathBuf>,
    /// A chat template (Jinja) to use instead of the model's.
    #[arg(long = "chat-template-file", value_name = "FILE")]
    pub chat_template_file: Option<PathBuf>,
    /// Chat interactively even when standard input is not a terminal (one user turn per line).
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// How many tokens to generate; -1: until end of generation or a full context.
    #[arg(short = 'n', long = "n-predict", value_name = "N", default_value_t = -1, allow_negative_numbers = true, value_parser = parse_n_predict)]
    pub n_predict: i64,
    /// Context size in tokens (prompt and generation). Default: the model's, at most 4096.
    #[arg(short = 'c', long = "ctx-size", value_name = "N")]
    pub ctx_size: Option<usize>,
    /// Also print special (control) tokens.
    #[arg(long)]
    pub special: bool,
    #[command(flatten)]
    pub sampling: SamplingArgs,
}

fn parse_n_predict(s: &str) -> Result<i64, String> {
    match s.parse::<i64>() {
        Ok(n) if n >= -1 => Ok(n),
        _ => Err("must be -1 (until end of generation) or a number of tokens".into()),
    }
}

/// A model being run: the backend with its KV cache, and the tokens that cache holds.
pub struct Session<'m> {
    backend: Box<dyn Backend + 'm>,
    graph: Graph,
    n_ctx: usize,
    cached: Vec<u32>,
    logits: Vec<f32>,
}

impl<'m> Session<'m> {
    pub fn new(backend: Box<dyn Backend + 'm>, graph: Graph, n_ctx: usize) -> Self {
        Session {
            backend,
            graph,
            n_ctx,
            cached: vec![],
            logits: vec![],
        }
    }

    /// The tokens in the KV cache, in order.
    pub fn tokens(&self) -> &[u32] {
        &self.cached
    }

    pub fn n_ctx(&self) -> usize {
        self.n_ctx
    }

    /// The logits after the last cached token.
    pub fn logits(&self) -> &[f32] {
        &self.logits
    }

    /// Makes the cache hold `tokens`: when it already holds a prefix of them only the rest is evaluated,
    /// else it starts over; in one batch either way. Returns how many tokens were evaluated.
    pub fn prefill(&mut self, tokens: &[u32]) -> Result<usize> {
        if tokens.is_empty() {
            bail!("the prompt is empty");
        }
        if tokens.len() > self.n_ctx {
            bail!(
                "the prompt is {} tokens, longer than the context of {} (-c)",
                tokens.len(),
                self.n_ctx
            );
        }
        if !(tokens.len() > self.cached.len() && tokens.starts_with(&self.cached)) {
            self.backend.reset();
            self.cached.clear();
        }
        let new = tokens[self.cached.len()..].to_vec();
        self.append(&new)?;
        Ok(new.len())
    }

    /// Evaluates one more token at the end of the cache.
    pub fn push(&mut self, token: u32) -> Result<()> {
        if self.cached.len() >= self.n_ctx {
            bail!("the context of {} tokens is full", self.n_ctx);
        }
        self.append(&[token])
    }

    fn append(&mut self, tokens: &[u32]) -> Result<()> {
        let ev = evaluate(
            self.backend.as_mut(),
            &self.graph,
            tokens,
            self.cached.len(),
            tokens.len(),
        )?;
        let n = ev.n_vocab;
        self.logits = ev.logits[ev.logits.len() - n..].to_vec();
        self.cached.extend_from_slice(tokens);
        Ok(())
    }
}

/// Why generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The model produced this end-of-generation token (not emitted).
    EndOfGeneration(u32),
    /// `-n` tokens were generated.
    Limit,
    /// The context is full.
    ContextFull,
}

/// What [`generate`] produced, and how long it took.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub tokens: Vec<u32>,
    pub stop: Stop,
    /// Prompt tokens evaluated (those not already in the KV cache) and the seconds that took.
    pub prompt_evaluated: usize,
    pub prompt_secs: f64,
    pub gen_secs: f64,
}

/// Evaluates `prompt` (reusing what the cache already holds of it), then samples up to `n_predict`
/// tokens (`None`: no limit), feeding each back through the KV cache. `on_token` sees every emitted token.
pub fn generate(
    session: &mut Session,
    tokenizer: &Tokenizer,
    sampler: &mut Sampler,
    prompt: &[u32],
    n_predict: Option<usize>,
    on_token: &mut dyn FnMut(u32) -> Result<()>,
) -> Result<Generation> {
    let start = Instant::now();
    let prompt_evaluated = session.prefill(prompt)?;
    let prompt_secs = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let mut tokens = vec![];
    let stop = loop {
        if n_predict.is_some_and(|n| tokens.len() >= n) {
            break Stop::Limit;
        }
        let id = sampler.sample(session.logits(), session.tokens())?;
        if tokenizer.is_end_of_generation(id) {
            break Stop::EndOfGeneration(id);
        }
        on_token(id)?;
        tokens.push(id);
        if n_predict.is_some_and(|n| tokens.len() >= n) {
            break Stop::Limit;
        }
        if session.tokens().len() >= session.n_ctx() {
            break Stop::ContextFull;
        }
        session.push(id)?;
    };
    Ok(Generation {
        tokens,
        stop,
        prompt_evaluated,
        prompt_secs,
        gen_secs: start.elapsed().as_secs_f64(),
    })
}

/// Streams tokens to stdout as text, hiding control tokens unless `--special`.
struct Printer<'t> {
    tokenizer: &'t Tokenizer,
    decoder: StreamDecoder,
    special: bool,
    text: String,
}

impl Printer<'_> {
    fn token(&mut self, id: u32) -> Result<()> {
        if self.tokenizer.is_control(id) && !self.special {
            return Ok(());
        }
        let piece = self.decoder.push(self.tokenizer, id)?;
        self.write(&piece)
    }

    fn write(&mut self, text: &str) -> Result<()> {
        self.text.push_str(text);
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .context("cannot write to standard output")
    }

    /// Ends the text (flushing an unfinished character) and returns it.
    fn finish(&mut self) -> Result<String> {
        let rest = self.decoder.finish();
        self.write(&rest)?;
        self.write("\n")?;
        let text = std::mem::take(&mut self.text);
        Ok(text.trim_end_matches('\n').to_string())
    }
}

pub fn run(args: RunArgs) -> Result<()> {
    if args.ctx_size == Some(0) {
        bail!("-c/--ctx-size must be at least 1");
    }
    let model = args.model.load()?;
    let n_ctx = match args.ctx_size {
        Some(n) if n > model.hp.context_length => bail!(
            "-c {n} is larger than the context the model was trained for ({} tokens, {})",
            model.hp.context_length,
            args.model.path().display()
        ),
        Some(n) => n,
        None => model.hp.context_length.min(DEFAULT_MAX_CTX),
    };
    let chat = args.chat || args.messages.is_some() || args.interactive;
    let template = if chat {
        Some(chat_template(&model.file, args.chat_template_file.as_deref())?)
    } else {
        None
    };
    let tokenizer = open_tokenizer(&model.file)?;
    let mut messages = match (&args.messages, &template) {
        (Some(path), Some(template)) => {
            let messages = read_messages(path)?;
            // Render once now, so a malformed message fails before the model is set up.
            render_prompt(template, &tokenizer, &messages)
                .with_context(|| format!("messages file {}", path.display()))?;
            messages.as_array().cloned().unwrap_or_default()
        }
        _ => vec![],
    };
    let params = args.sampling.params();
    let mut sampler = Sampler::new(params.clone())?;
    let graph = model.graph(GraphOptions {
        last_logits: true,
        ..GraphOptions::default()
    })?;
    let backend = model.backend(&args.model, n_ctx)?;
    eprintln!(
        "{}: backend {}, context {n_ctx}, seed {}",
        args.model.path().display(),
        backend.name(),
        params.seed
    );
    let mut session = Session::new(backend, graph, n_ctx);
    let n_predict = usize::try_from(args.n_predict).ok();
    let mut printer = Printer {
        tokenizer: &tokenizer,
        decoder: StreamDecoder::new(),
        special: args.special,
        text: String::new(),
    };
    let mut stats = Stats::default();

    let Some(template) = template else {
        let prompt = match &args.prompt {
            Some(p) => p.clone(),
            None if !std::io::stdin().is_terminal() => read_stdin()?,
            None => bail!("no prompt: give one with -p or on standard input"),
        };
        let tokens = encode_prompt(&tokenizer, &prompt, true)?;
        printer.write(&prompt)?;
        let g = generate(&mut session, &tokenizer, &mut sampler, &tokens, n_predict, &mut |id| {
            printer.token(id)
        })?;
        printer.finish()?;
        stats.add(&g);
        stats.print();
        return Ok(());
    };

    if let Some(p) = &args.prompt {
        messages.push(json!({"role": "user", "content": p}));
    }
    let interactive = args.interactive || std::io::stdin().is_terminal();
    if !interactive && messages.is_empty() {
        messages.push(json!({"role": "user", "content": read_stdin()?}));
    }
    if !interactive && messages.last().is_some_and(|m| m["role"] != "user") {
        bail!("the conversation should end with a user message (give one with -p, or chat with -i)");
    }
    let mut lines = std::io::stdin().lock().lines();
    loop {
        let waiting_for_user = messages.last().is_none_or(|m| m["role"] != "user");
        if waiting_for_user {
            if !interactive {
                break;
            }
            let Some(line) = read_turn(&mut lines)? else { break };
            messages.push(json!({"role": "user", "content": line}));
        }
        let text = render_prompt(&template, &tokenizer, &Json::Array(messages.clone()))?;
        let tokens = encode_prompt(&tokenizer, &text, true)?;
        let g = generate(&mut session, &tokenizer, &mut sampler, &tokens, n_predict, &mut |id| {
            printer.token(id)
        })?;
        let reply = printer.finish()?;
        stats.add(&g);
        messages.push(json!({"role": "assistant", "content": reply}));
        if g.stop == Stop::ContextFull {
            eprintln!("the context of {n_ctx} tokens is full (-c); the conversation ends here");
            break;
        }
    }
    stats.print();
    Ok(())
}

/// The next non-empty line of user input (`> ` is shown on a terminal); `None` at end of input.
fn read_turn(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> Result<Option<String>> {
    loop {
        if std::io::stdin().is_terminal() {
            let mut out = std::io::stdout().lock();
            out.write_all(b"> ")
                .and_then(|()| out.flush())
                .context("cannot write to standard output")?;
        }
        match lines.next() {
            None => return Ok(None),
            Some(line) => {
                let line = line.context("cannot read a line from standard input")?;
                if !line.trim().is_empty() {
                    return Ok(Some(line));
                }
            }
        }
    }
}

/// Token counts and times over all turns, for the speeds printed at the end.
#[derive(Debug, Default)]
struct Stats {
    prompt_tokens: usize,
    prompt_secs: f64,
    gen_tokens: usize,
    gen_secs: f64,
}

impl Stats {
    fn add(&mut self, g: &Generation) {
        self.prompt_tokens += g.prompt_evaluated;
        self.prompt_secs += g.prompt_secs;
        self.gen_tokens += g.tokens.len();
        self.gen_secs += g.gen_secs;
    }

    fn print(&self) {
        let rate = |n: usize, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
        eprintln!(
            "prompt: {} tokens in {:.2} s ({:.1} t/s); generation: {} tokens in {:.2} s ({:.1} t/s)",
            self.prompt_tokens,
            self.prompt_secs,
            rate(self.prompt_tokens, self.prompt_secs),
            self.gen_tokens,
            self.gen_secs,
            rate(self.gen_tokens, self.gen_secs)
        );
    }
}
