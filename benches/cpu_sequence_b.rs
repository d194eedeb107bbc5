//! `cargo bench --bench cpu_sequence_b`: the CPU backend on sequence b (160 tokens) of the
//! reference `tiny` and `austen` models, one batch from position 0, median of several runs.
//! A benchmark, not a test: it asserts nothing about speed.

use std::path::{Path, PathBuf};
use std::time::Instant;

use lingot::backend::{open_choice, BackendChoice};
use lingot::model::evaluate;
use lingot_models::bailing_moe2::{build_graph, GraphOptions, HParams};
use lingot_models::gguf::GgufFile;

fn reference_dir() -> PathBuf {
    std::env::var_os("LINGOT_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference"))
}

fn main() -> anyhow::Result<()> {
    let reps = 7;
    println!("| model | tokens | median ms | tokens/s |");
    println!("|---|---|---|---|");
    for (model, variant) in [("tiny", "F32"), ("austen", "Q8_0"), ("austen", "Q4_K_M")] {
        let dir = reference_dir().join(model);
        let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("manifest.json"))?)?;
        let tokens: Vec<u32> = manifest["sequences"]["b"]
            .as_array()
            .ok_or_else(|| anyhow::anyhow!("{model}: no sequence b"))?
            .iter()
            .filter_map(|v| v.as_u64().map(|x| x as u32))
            .collect();
        let file = GgufFile::open(&dir.join(format!("{model}-{variant}.gguf")))?;
        let hp = HParams::from_gguf(&file)?;
        let mut graph = build_graph(&hp, &file, GraphOptions::default())?;
        lingot_passes::default_pipeline().run(&mut graph)?;
        let mut times = vec![];
        for _ in 0..reps {
            let mut be = open_choice(&file, BackendChoice::Cpu, tokens.len())?;
            let start = Instant::now();
            evaluate(be.as_mut(), &graph, &tokens, 0, tokens.len())?;
            times.push(start.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let median = times[reps / 2];
        println!(
            "| {model}-{variant} | {} | {:.1} | {:.0} |",
            tokens.len(),
            median * 1e3,
            tokens.len() as f64 / median
        );
    }
    Ok(())
}
