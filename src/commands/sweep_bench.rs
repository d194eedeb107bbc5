//! `lingot sweep-bench`: llama.cpp's sweep-bench. For KV depths N_KV = 0, ub, 2ub, … while
//! N_KV + ub fits in `-c`: decode TG = ub/4 random tokens one at a time from N_KV, then drop them
//! and process a prompt of PP = ub random tokens at N_KV, which leaves the cache at N_KV + ub for
//! the next step. Prints llama's table (or `--json`: its JSONL lines) and can draw S_PP and S_TG
//! against N_KV as an SVG line chart (`--plot`).

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use lingot_models::bailing_moe2::GraphOptions;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde_json::json;

use crate::commands::bench::{
    model_name, print_profile, random_tokens, time_decode, time_prompt, BackendInfo, BenchBackend,
};
use crate::model::{eval, ModelArgs};
use lingot_ir::exec::Backend;

#[derive(Debug, Args)]
pub struct SweepBenchArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Largest KV depth (context size); default: the model's context length.
    #[arg(short = 'c', long = "ctx-size", value_name = "N")]
    pub ctx_size: Option<usize>,
    /// Prompt tokens per step, and the step of N_KV (written `-ub N`, as in llama.cpp).
    #[arg(long = "ubatch-size", value_name = "N", default_value_t = 2048)]
    pub ubatch_size: usize,
    /// Tokens decoded per step (default: ub/4, as llama's sweep-bench).
    #[arg(short = 'n', long = "n-gen", value_name = "N")]
    pub n_gen: Option<usize>,
    /// Print one JSON object per step (llama sweep-bench's jsonl fields) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also draw S_PP and S_TG against N_KV into this SVG file.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,
    /// Seed of the random token ids.
    #[arg(long, value_name = "N", default_value_t = 1234)]
    pub seed: u64,
    /// After the sweep, print each kernel's GPU time (timestamp queries) in one prefill batch of
    /// `-ub` tokens and one decode token after it (wgpu only).
    #[arg(long)]
    pub profile: bool,
}

/// One step of the sweep.
#[derive(Debug, Clone, Copy)]
struct Step {
    pp: usize,
    tg: usize,
    n_kv: usize,
    t_pp: f64,
    t_tg: f64,
}

impl Step {
    fn s_pp(&self) -> f64 {
        self.pp as f64 / self.t_pp.max(1e-12)
    }

    fn s_tg(&self) -> f64 {
        self.tg as f64 / self.t_tg.max(1e-12)
    }
}

pub fn run(args: SweepBenchArgs) -> Result<()> {
    let ub = args.ubatch_size;
    if ub == 0 {
        bail!("-ub/--ubatch-size must be at least 1");
    }
    let tg = args.n_gen.unwrap_or(ub / 4);
    if tg == 0 {
        bail!("-ub {ub} gives no tokens to decode (TG = ub/4): use -ub 4 or more, or -n N");
    }
    if tg > ub {
        bail!("-n {tg} is larger than -ub {ub}: the decoded tokens must fit in the step");
    }
    let model = args.model.load()?;
    let n_ctx = args.ctx_size.unwrap_or(model.hp.context_length);
    if n_ctx < ub {
        bail!("-c {n_ctx} is smaller than -ub {ub}: no step fits");
    }
    let graph = model.graph(GraphOptions {
        last_logits: true,
        ..GraphOptions::default()
    })?;
    let profile_ctx = args.profile.then_some(n_ctx.max(ub + 1));
    let mut bench_backend = BenchBackend::open(&model, &args.model, n_ctx, profile_ctx)?;
    let backend = bench_backend.get();
    let binfo = BackendInfo::new(backend);
    let vocab = model.hp.vocab_size;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut out = std::io::stdout().lock();
    let info = format!(
        "main: n_kv_max = {n_ctx}, n_batch = {ub}, n_ubatch = {ub}, backend = {}, n_threads = {}",
        backend.name(),
        binfo.n_threads
    );
    if args.json {
        eprintln!("{info}");
    } else {
        writeln!(out, "\n{info}\n")?;
        writeln!(
            out,
            "|{:>6} | {:>6} | {:>6} | {:>8} | {:>8} | {:>8} | {:>8} |",
            "PP", "TG", "N_KV", "T_PP s", "S_PP t/s", "T_TG s", "S_TG t/s"
        )?;
        writeln!(out, "|{0:-<7}|{0:-<8}|{0:-<8}|{0:-<10}|{0:-<10}|{0:-<10}|{0:-<10}|", "")?;
    }
    // Warm-up (kernels compiled, the decode and prompt plans made, weights paged in), then an
    // empty cache.
    eval(backend, &graph, &random_tokens(&mut rng, 1, vocab), 0)?;
    backend.reset();
    eval(backend, &graph, &random_tokens(&mut rng, ub, vocab), 0)?;
    backend.reset();
    let mut steps = Vec::new();
    let mut n_kv = 0;
    while n_kv + ub <= n_ctx {
        let t_tg = time_decode(backend, &graph, &random_tokens(&mut rng, tg, vocab), n_kv)?;
        // Evaluating from n_kv overwrites the decoded tokens' cache rows (llama's seq_rm).
        let t_pp = time_prompt(backend, &graph, &random_tokens(&mut rng, ub, vocab), n_kv, ub)?;
        let s = Step {
            pp: ub,
            tg,
            n_kv,
            t_pp: t_pp.as_secs_f64(),
            t_tg: t_tg.as_secs_f64(),
        };
        if args.json {
            let line = json!({
                "n_kv_max": n_ctx, "n_batch": ub, "n_ubatch": ub, "flash_attn": 0, "n_gpu_layers": if binfo.backends == "CPU" { 0 } else { 99 },
                "n_threads": binfo.n_threads, "n_threads_batch": binfo.n_threads,
                "pp": s.pp, "tg": s.tg, "n_kv": s.n_kv, "t_pp": s.t_pp, "speed_pp": s.s_pp(), "t_tg": s.t_tg, "speed_tg": s.s_tg(),
            });
            writeln!(out, "{line}")?;
        } else {
            writeln!(
                out,
                "|{:>6} | {:>6} | {:>6} | {:>8.3} | {:>8.2} | {:>8.3} | {:>8.2} |",
                s.pp,
                s.tg,
                s.n_kv,
                s.t_pp,
                s.s_pp(),
                s.t_tg,
                s.s_tg()
            )?;
        }
        out.flush()?;
        steps.push(s);
        n_kv += ub;
    }
    if let Some(path) = &args.plot {
        let title = format!(
            "{} ({}), {}",
            model_name(&model.file).unwrap_or("model"),
            args.model
                .path()
                .file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into_owned()),
            backend.name()
        );
        crate::write_atomically(path, svg(&title, &steps).as_bytes())
            .with_context(|| format!("--plot {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    if let Some(be) = bench_backend.profiled() {
        be.reset();
        print_profile(be, &graph, ub, vocab, &mut rng, &mut out)?;
    }
    Ok(())
}

const WIDTH: f64 = 800.0;
const PANEL: f64 = 280.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 50.0;
const GAP: f64 = 60.0;

/// Two stacked line charts, S_PP and S_TG against N_KV, with axes, ticks and labels.
fn svg(title: &str, steps: &[Step]) -> String {
    let height = TOP + 2.0 * PANEL + GAP + 50.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="white"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="15">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    let x_max = steps.iter().map(|p| p.n_kv).max().unwrap_or(0).max(1) as f64;
    let pp: Vec<(f64, f64)> = steps.iter().map(|p| (p.n_kv as f64, p.s_pp())).collect();
    let tg: Vec<(f64, f64)> = steps.iter().map(|p| (p.n_kv as f64, p.s_tg())).collect();
    panel(&mut s, TOP, "S_PP (prompt tokens/s)", "#1f77b4", &pp, x_max);
    panel(
        &mut s,
        TOP + PANEL + GAP,
        "S_TG (decoded tokens/s)",
        "#d62728",
        &tg,
        x_max,
    );
    let _ = writeln!(s, "</svg>");
    s
}

fn panel(s: &mut String, top: f64, label: &str, color: &str, pts: &[(f64, f64)], x_max: f64) {
    let (x0, x1, y0, y1) = (LEFT, WIDTH - RIGHT, top + PANEL - 30.0, top);
    let y_step = nice_step(pts.iter().map(|p| p.1).fold(0.0, f64::max));
    let y_max = (pts.iter().map(|p| p.1).fold(0.0, f64::max) / y_step).ceil().max(1.0) * y_step;
    let x_step = nice_step(x_max);
    let px = |x: f64| x0 + (x1 - x0) * x / x_max;
    let py = |y: f64| y0 - (y0 - y1) * y / y_max;
    let _ = writeln!(s, r#"<g>"#);
    let mut y = 0.0;
    while y <= y_max + y_step * 1e-9 {
        let _ = writeln!(
            s,
            r##"<line x1="{x0}" y1="{0:.1}" x2="{x1}" y2="{0:.1}" stroke="#ddd"/>"##,
            py(y)
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
            x0 - 6.0,
            py(y) + 4.0,
            tick(y)
        );
        y += y_step;
    }
    let mut x = 0.0;
    while x <= x_max + x_step * 1e-9 {
        let _ = writeln!(
            s,
            r##"<line x1="{0:.1}" y1="{y0}" x2="{0:.1}" y2="{1}" stroke="#333"/>"##,
            px(x),
            y0 + 5.0
        );
        let _ = writeln!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle">{}</text>"#,
            px(x),
            y0 + 18.0,
            tick(x)
        );
        x += x_step;
    }
    let _ = writeln!(s, r##"<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#333"/>"##);
    let _ = writeln!(s, r##"<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#333"/>"##);
    let _ = writeln!(
        s,
        r#"<text x="{}" y="{}" text-anchor="middle">N_KV (tokens in the cache)</text>"#,
        (x0 + x1) / 2.0,
        y0 + 34.0
    );
    let _ = writeln!(
        s,
        r#"<text x="20" y="{0:.1}" text-anchor="middle" transform="rotate(-90 20 {0:.1})">{1}</text>"#,
        (y0 + y1) / 2.0,
        escape(label)
    );
    let line: Vec<String> = pts.iter().map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y))).collect();
    let _ = writeln!(
        s,
        r#"<polyline fill="none" stroke="{color}" stroke-width="2" points="{}"/>"#,
        line.join(" ")
    );
    for &(x, y) in pts {
        let _ = writeln!(
            s,
            r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{color}"/>"#,
            px(x),
            py(y)
        );
    }
    let _ = writeln!(s, "</g>");
}

/// A round step (1, 2 or 5 times a power of ten) giving about five ticks up to `max`.
fn nice_step(max: f64) -> f64 {
    if !(max > 0.0 && max.is_finite()) {
        return 1.0;
    }
    let raw = max / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let m = raw / mag;
    mag * if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    }
}

fn tick(v: f64) -> String {
    if v == v.round() {
        format!("{v:.0}")
    } else {
        format!("{v:.2}").trim_end_matches('0').to_string()
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
