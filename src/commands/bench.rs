//! `lingot bench`: llama-bench's tests and output. `pp<N>` times a prompt of N random tokens
//! (micro-batches of `-ub`) from an empty cache, `tg<N>` times N tokens decoded one at a time;
//! each is repeated `-r` times after a warm-up run and reported as mean ± standard deviation of
//! the tokens per second, as a markdown table or (`--json`, `-o json|jsonl`) with llama-bench's
//! JSON field names. Also the pieces `sweep-bench` shares: model description, random tokens.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use lingot_ir::exec::Backend;
use lingot_ir::{Bindings, Graph};
use lingot_models::bailing_moe2::GraphOptions;
use lingot_models::gguf::{GgufFile, MetaValue};
use lingot_wgpu::{WgpuBackend, WgpuOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value as Json};

use crate::model::{eval, inputs, Model, ModelArgs};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A markdown table, as llama-bench prints by default.
    Md,
    /// One JSON array of test objects.
    Json,
    /// One JSON test object per line.
    Jsonl,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Prompt lengths (one pp test each), comma-separated; 0 for none.
    #[arg(
        short = 'p',
        long = "n-prompt",
        value_name = "N,...",
        value_delimiter = ',',
        default_value = "512"
    )]
    pub n_prompt: Vec<usize>,
    /// Generation lengths (one tg test each), comma-separated; 0 for none.
    #[arg(
        short = 'n',
        long = "n-gen",
        value_name = "N,...",
        value_delimiter = ',',
        default_value = "128"
    )]
    pub n_gen: Vec<usize>,
    /// Micro-batch size of the prompt (written `-ub N`, as in llama-bench).
    #[arg(long = "ubatch-size", value_name = "N", default_value_t = 512)]
    pub ubatch_size: usize,
    /// Repetitions of each test.
    #[arg(short = 'r', long = "repetitions", value_name = "N", default_value_t = 5)]
    pub repetitions: usize,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value_t = OutputFormat::Md)]
    pub output: OutputFormat,
    /// Same as `-o json`.
    #[arg(long)]
    pub json: bool,
    /// Skip the untimed warm-up run of each test.
    #[arg(long)]
    pub no_warmup: bool,
    /// Seed of the random token ids.
    #[arg(long, value_name = "N", default_value_t = 1234)]
    pub seed: u64,
    /// After the tests, print each kernel's GPU time (timestamp queries) in one prefill batch of
    /// `-ub` tokens (at most the first `-p`) and one decode token after it (wgpu only).
    #[arg(long)]
    pub profile: bool,
}

/// The backend a benchmark times: with `--profile` the wgpu backend itself (it alone can time
/// kernels), else whatever `--backend` picks.
pub enum BenchBackend<'m> {
    Profiled(Box<WgpuBackend<'m>>),
    Plain(Box<dyn Backend + 'm>),
}

impl<'m> BenchBackend<'m> {
    /// `profile_ctx`: `Some(context)` for `--profile`.
    pub fn open(model: &'m Model, args: &ModelArgs, n_ctx: usize, profile_ctx: Option<usize>) -> Result<Self> {
        Ok(match profile_ctx {
            Some(ctx) => BenchBackend::Profiled(Box::new(open_wgpu(model, args, ctx)?)),
            None => BenchBackend::Plain(model.backend(args, n_ctx)?),
        })
    }

    pub fn get(&mut self) -> &mut dyn Backend {
        match self {
            BenchBackend::Profiled(be) => be.as_mut(),
            BenchBackend::Plain(be) => be.as_mut(),
        }
    }

    pub fn profiled(&mut self) -> Option<&mut WgpuBackend<'m>> {
        match self {
            BenchBackend::Profiled(be) => Some(be.as_mut()),
            BenchBackend::Plain(_) => None,
        }
    }
}

/// Opens the wgpu backend itself (not through `--backend`), for `--profile`.
pub fn open_wgpu<'m>(model: &'m Model, args: &ModelArgs, n_ctx: usize) -> Result<WgpuBackend<'m>> {
    if args.backend == crate::model::BackendKind::Cpu {
        bail!("--profile times GPU kernels: it needs --backend wgpu (or auto with a GPU)");
    }
    let adapter = lingot_wgpu::pick(false, args.device)
        .context("--profile")?
        .context("--profile: no wgpu adapter")?;
    let options = WgpuOptions {
        context: n_ctx.max(1),
        ..WgpuOptions::default()
    };
    let be = WgpuBackend::new(&adapter, &model.file, options).context("cannot open the wgpu backend")?;
    if !be.can_profile() {
        bail!(
            "--profile: {} has no timestamp queries (wgpu feature TIMESTAMP_QUERY), so kernels cannot be timed",
            be.name()
        );
    }
    Ok(be)
}

/// Prints the kernel profile of one prefill batch of `ubatch` random tokens from an empty cache,
/// then of one decode token after it. Each is run once untimed first (plans, pipelines).
pub fn print_profile(
    be: &mut WgpuBackend,
    graph: &Graph,
    ubatch: usize,
    vocab: usize,
    rng: &mut StdRng,
    out: &mut impl Write,
) -> Result<()> {
    let prompt = random_tokens(rng, ubatch.max(1), vocab);
    let next = random_tokens(rng, 1, vocab);
    let n = prompt.len();
    for (what, tokens, n_past) in [
        (format!("prefill of {n} tokens at N_KV 0"), &prompt, 0),
        (format!("one decode token at N_KV {n}"), &next, n),
    ] {
        let b = Bindings {
            t: tokens.len(),
            kv: n_past + tokens.len(),
        };
        let ins = inputs(tokens, n_past);
        be.run(graph, &ins, b)?;
        let (_, times) = be.profile(graph, &ins, b)?;
        let rows = lingot_wgpu::profile::summarize(&times);
        writeln!(out, "\nprofile: {what} ({})\n", be.name())?;
        write!(out, "{}", lingot_wgpu::profile::table(&rows))?;
        let ops = lingot_wgpu::profile::summarize_by_op(&times);
        writeln!(out, "\nthe same by graph op (layers summed):\n")?;
        write!(out, "{}", lingot_wgpu::profile::table_titled(&ops, "graph op: kernel"))?;
    }
    Ok(())
}

/// What llama-bench reports about the model file.
#[derive(Debug, Clone)]
pub struct ModelInfo {
    pub filename: String,
    /// `bailingmoe2 16B.A1B Q4_K - Medium`: architecture, size, file type.
    pub desc: String,
    /// Bytes of tensor data.
    pub size: u64,
    pub n_params: u64,
}

impl ModelInfo {
    pub fn new(model: &Model, path: &Path) -> ModelInfo {
        let f = &model.file;
        let size = f.tensors().iter().map(|t| t.size).sum();
        let n_params: u64 = f.tensors().iter().map(|t| t.dims.iter().product::<u64>()).sum();
        // Routed experts a token does not use.
        let (e, k) = (model.hp.expert_count.max(1) as u64, model.hp.expert_used_count as u64);
        let idle: u64 = f
            .tensors()
            .iter()
            .filter(|t| t.name.ends_with("_exps.weight"))
            .map(|t| t.dims.iter().product::<u64>() / e * e.saturating_sub(k))
            .sum();
        let ftype = f.get("general.file_type").and_then(MetaValue::as_u64);
        let desc = format!(
            "bailingmoe2 {}.A{} {}",
            count_label(n_params),
            count_label(n_params - idle),
            ftype_name(ftype)
        );
        ModelInfo {
            filename: path.display().to_string(),
            desc,
            size,
            n_params,
        }
    }
}

/// `16B`, `2M`: a parameter count rounded to its largest unit.
fn count_label(n: u64) -> String {
    let n = n as f64;
    match n {
        n if n >= 1e12 => format!("{:.0}T", n / 1e12),
        n if n >= 1e9 => format!("{:.0}B", n / 1e9),
        n if n >= 1e6 => format!("{:.0}M", n / 1e6),
        n => format!("{:.0}K", n / 1e3),
    }
}

/// llama.cpp's `llama_model_ftype_name`.
fn ftype_name(ftype: Option<u64>) -> &'static str {
    match ftype {
        Some(0) => "all F32",
        Some(1) => "F16",
        Some(2) => "Q4_0",
        Some(3) => "Q4_1",
        Some(7) => "Q8_0",
        Some(8) => "Q5_0",
        Some(9) => "Q5_1",
        Some(10) => "Q2_K - Medium",
        Some(11) => "Q3_K - Small",
        Some(12) => "Q3_K - Medium",
        Some(13) => "Q3_K - Large",
        Some(14) => "Q4_K - Small",
        Some(15) => "Q4_K - Medium",
        Some(16) => "Q5_K - Small",
        Some(17) => "Q5_K - Medium",
        Some(18) => "Q6_K",
        Some(32) => "BF16",
        _ => "(unknown type)",
    }
}

/// How the backend is named in llama-bench's columns: `CPU`, or `wgpu` with the adapter.
pub struct BackendInfo {
    pub backends: String,
    pub gpu_info: String,
    pub n_threads: usize,
}

impl BackendInfo {
    pub fn new(backend: &dyn Backend) -> BackendInfo {
        let name = backend.name();
        let cpu = name.starts_with("cpu");
        BackendInfo {
            backends: if cpu { "CPU".into() } else { "wgpu".into() },
            // `wgpu (NVIDIA H100 (Vulkan))` -> `NVIDIA H100 (Vulkan)`.
            gpu_info: match name.strip_prefix("wgpu (").and_then(|n| n.strip_suffix(')')) {
                Some(adapter) if !cpu => adapter.to_string(),
                _ => String::new(),
            },
            n_threads: rayon::current_num_threads(),
        }
    }
}

/// `n` random token ids below `vocab`.
pub fn random_tokens(rng: &mut StdRng, n: usize, vocab: usize) -> Vec<u32> {
    (0..n).map(|_| rng.random_range(0..vocab.max(1) as u32)).collect()
}

/// Evaluates `tokens` from `n_past` in micro-batches of `ubatch`; returns the wall time, which
/// includes copying the outputs to the host, so a GPU has finished when it is taken.
pub fn time_prompt(
    backend: &mut dyn Backend,
    graph: &Graph,
    tokens: &[u32],
    n_past: usize,
    ubatch: usize,
) -> Result<Duration> {
    let start = Instant::now();
    for (i, chunk) in tokens.chunks(ubatch.max(1)).enumerate() {
        eval(backend, graph, chunk, n_past + i * ubatch.max(1))?;
    }
    Ok(start.elapsed())
}

/// Decodes `tokens` one at a time from `n_past`; returns the wall time.
pub fn time_decode(backend: &mut dyn Backend, graph: &Graph, tokens: &[u32], n_past: usize) -> Result<Duration> {
    let start = Instant::now();
    for (i, &t) in tokens.iter().enumerate() {
        eval(backend, graph, &[t], n_past + i)?;
    }
    Ok(start.elapsed())
}

/// The current time as llama-bench writes it (ISO 8601, UTC).
pub fn iso_time_now() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = ((secs / 86400) as i64, secs % 86400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// One test's result.
struct TestResult {
    n_prompt: usize,
    n_gen: usize,
    time: String,
    samples_ns: Vec<u64>,
}

impl TestResult {
    fn name(&self) -> String {
        if self.n_prompt > 0 {
            format!("pp{}", self.n_prompt)
        } else {
            format!("tg{}", self.n_gen)
        }
    }

    fn samples_ts(&self) -> Vec<f64> {
        let n = (self.n_prompt + self.n_gen) as f64;
        self.samples_ns.iter().map(|&ns| n * 1e9 / ns.max(1) as f64).collect()
    }
}

/// Mean and sample standard deviation.
fn mean_sd(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n.max(1.0);
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
    (mean, var.sqrt())
}

pub fn run(args: BenchArgs) -> Result<()> {
    let format = if args.json { OutputFormat::Json } else { args.output };
    if args.repetitions == 0 {
        bail!("-r/--repetitions must be at least 1");
    }
    if args.ubatch_size == 0 {
        bail!("-ub/--ubatch-size must be at least 1");
    }
    let tests: Vec<(usize, usize)> = (args.n_prompt.iter().filter(|&&p| p > 0).map(|&p| (p, 0)))
        .chain(args.n_gen.iter().filter(|&&n| n > 0).map(|&n| (0, n)))
        .collect();
    if tests.is_empty() {
        bail!("nothing to run: every -p and -n is 0");
    }
    let model = args.model.load()?;
    let graph = model.graph(GraphOptions {
        last_logits: true,
        ..GraphOptions::default()
    })?;
    let n_ctx = tests.iter().map(|&(p, n)| p.max(n)).max().unwrap_or(1);
    let ub_profile = args.ubatch_size.min(
        args.n_prompt
            .iter()
            .copied()
            .filter(|&p| p > 0)
            .max()
            .unwrap_or(args.ubatch_size),
    );
    let profile_ctx = args.profile.then_some(n_ctx.max(ub_profile + 1));
    let mut bench_backend = BenchBackend::open(&model, &args.model, n_ctx, profile_ctx)?;
    let backend = bench_backend.get();
    let info = ModelInfo::new(&model, &args.model.path());
    let binfo = BackendInfo::new(backend);
    let mut rng = StdRng::seed_from_u64(args.seed);
    let vocab = model.hp.vocab_size;
    let mut out = std::io::stdout().lock();
    let mut results = Vec::new();
    if format == OutputFormat::Md {
        print_md_header(&mut out)?;
    }
    for (p, n) in tests {
        let run_once = |backend: &mut dyn Backend, rng: &mut StdRng| -> Result<Duration> {
            backend.reset();
            if p > 0 {
                time_prompt(backend, &graph, &random_tokens(rng, p, vocab), 0, args.ubatch_size)
            } else {
                time_decode(backend, &graph, &random_tokens(rng, n, vocab), 0)
            }
        };
        if !args.no_warmup {
            run_once(backend, &mut rng)?;
        }
        let time = iso_time_now();
        let mut samples_ns = Vec::with_capacity(args.repetitions);
        for _ in 0..args.repetitions {
            samples_ns.push(run_once(backend, &mut rng)?.as_nanos() as u64);
        }
        let r = TestResult {
            n_prompt: p,
            n_gen: n,
            time,
            samples_ns,
        };
        match format {
            OutputFormat::Md => print_md_row(&mut out, &info, &binfo, &r)?,
            OutputFormat::Jsonl => writeln!(out, "{}", test_json(&info, &binfo, &args, &r))?,
            OutputFormat::Json => {}
        }
        out.flush()?;
        results.push(r);
    }
    match format {
        OutputFormat::Md => writeln!(out, "\nbuild: lingot {}", env!("CARGO_PKG_VERSION"))?,
        OutputFormat::Json => {
            let all: Vec<Json> = results.iter().map(|r| test_json(&info, &binfo, &args, r)).collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?;
        }
        OutputFormat::Jsonl => {}
    }
    if let Some(be) = bench_backend.profiled() {
        print_profile(be, &graph, ub_profile, vocab, &mut rng, &mut out)?;
    }
    Ok(())
}

/// llama-bench's columns: (name, width; negative widths are left-aligned).
const COLUMNS: [(&str, i32); 7] = [
    ("model", -30),
    ("size", 10),
    ("params", 10),
    ("backend", -10),
    ("threads", 7),
    ("test", 15),
    ("t/s", 20),
];

fn md_line(out: &mut impl Write, cells: &[String]) -> std::io::Result<()> {
    let mut line = String::from("|");
    for ((_, w), cell) in COLUMNS.iter().zip(cells) {
        let width = w.unsigned_abs() as usize;
        let cell = if *w < 0 {
            format!("{cell:<width$}")
        } else {
            format!("{cell:>width$}")
        };
        line.push_str(&format!(" {cell} |"));
    }
    writeln!(out, "{line}")
}

fn print_md_header(out: &mut impl Write) -> std::io::Result<()> {
    let names: Vec<String> = COLUMNS.iter().map(|(n, _)| n.to_string()).collect();
    md_line(out, &names)?;
    let mut line = String::from("|");
    for (_, w) in COLUMNS {
        let n = w.unsigned_abs() as usize;
        let rule = if w < 0 {
            "-".repeat(n)
        } else {
            format!("{}:", "-".repeat(n - 1))
        };
        line.push_str(&format!(" {rule} |"));
    }
    writeln!(out, "{line}")
}

fn print_md_row(out: &mut impl Write, info: &ModelInfo, b: &BackendInfo, r: &TestResult) -> std::io::Result<()> {
    let size = if info.size < 1 << 30 {
        format!("{:.2} MiB", info.size as f64 / (1u64 << 20) as f64)
    } else {
        format!("{:.2} GiB", info.size as f64 / (1u64 << 30) as f64)
    };
    let params = if info.n_params < 1_000_000_000 {
        format!("{:.2} M", info.n_params as f64 / 1e6)
    } else {
        format!("{:.2} B", info.n_params as f64 / 1e9)
    };
    let (ts, sd) = mean_sd(&r.samples_ts());
    let cells = [
        info.desc.clone(),
        size,
        params,
        b.backends.clone(),
        b.n_threads.to_string(),
        r.name(),
        format!("{ts:.2} ± {sd:.2}"),
    ];
    md_line(out, &cells)
}

/// One test as llama-bench's JSON writes it (the fields that mean something here).
fn test_json(info: &ModelInfo, b: &BackendInfo, args: &BenchArgs, r: &TestResult) -> Json {
    let ns: Vec<f64> = r.samples_ns.iter().map(|&x| x as f64).collect();
    let (avg_ns, sd_ns) = mean_sd(&ns);
    let ts = r.samples_ts();
    let (avg_ts, sd_ts) = mean_sd(&ts);
    json!({
        "build_commit": format!("lingot-{}", env!("CARGO_PKG_VERSION")),
        "build_number": 0,
        "cpu_info": cpu_info(),
        "gpu_info": b.gpu_info,
        "backends": b.backends,
        "model_filename": info.filename,
        "model_type": info.desc,
        "model_size": info.size,
        "model_n_params": info.n_params,
        "n_batch": args.ubatch_size,
        "n_ubatch": args.ubatch_size,
        "n_threads": b.n_threads,
        "type_k": "f32",
        "type_v": "f32",
        "n_gpu_layers": if b.backends == "CPU" { 0 } else { 99 },
        "flash_attn": false,
        "use_mmap": true,
        "embeddings": false,
        "n_prompt": r.n_prompt,
        "n_gen": r.n_gen,
        "n_depth": 0,
        "test_time": r.time,
        "avg_ns": avg_ns.round() as u64,
        "stddev_ns": sd_ns.round() as u64,
        "avg_ts": avg_ts,
        "stddev_ts": sd_ts,
        "samples_ns": r.samples_ns,
        "samples_ts": ts,
    })
}

/// The CPU's model name from /proc/cpuinfo, or "" where there is none.
pub fn cpu_info() -> String {
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let line = text.lines().find(|l| l.starts_with("model name"));
    line.and_then(|l| l.split_once(':'))
        .map_or(String::new(), |(_, v)| v.trim().to_string())
}

/// A file's `general.name`, for titles.
pub fn model_name(f: &GgufFile) -> Option<&str> {
    f.get("general.name").and_then(MetaValue::as_str)
}
