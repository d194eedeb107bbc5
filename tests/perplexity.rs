//! `lingot perplexity` against the reference perplexities of every variant (`ppl.reference` in each
//! manifest: Pride and Prejudice, windows of 128, first 8 windows) within 0.01%, austen with plain routing
//! through `--override-kv`, and the same perplexity and expert choices whatever the micro-batch size.

mod common;

use common::*;
use lingot::backend::{self, BackendChoice};
use lingot::commands::perplexity::{perplexity, PerplexityParams};
use lingot_models::bailing_moe2::{build_graph, GraphOptions, HParams};
use lingot_models::gguf::GgufFile;
use lingot_models::tokenizer::Tokenizer;

const CTX: &str = "128";
const CHUNKS: &str = "8";

fn text_path() -> String {
    data_dir().join("pride_and_prejudice.txt").display().to_string()
}

/// The reference perplexity `key` of a variant, checking the manifest's settings are the ones used here.
fn reference_ppl(model: &str, variant: &str, key: &str) -> f64 {
    let manifest = manifest(model);
    let entry = manifest["variants"]
        .as_array()
        .expect("variants")
        .iter()
        .find(|v| v["type"] == variant)
        .unwrap_or_else(|| panic!("{model}: no variant {variant} in the manifest"));
    let ppl = &entry["ppl"];
    assert_eq!(ppl["ctx"].to_string(), CTX, "{model}-{variant}: reference window size");
    assert_eq!(
        ppl["chunks"].to_string(),
        CHUNKS,
        "{model}-{variant}: reference window count"
    );
    assert_eq!(
        ppl["text"], "data/pride_and_prejudice.txt",
        "{model}-{variant}: reference text"
    );
    ppl[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{model}-{variant}: no ppl.{key}"))
}

/// `lingot perplexity` on the CPU: the running values and the final estimate it prints.
fn cli_ppl(model: &str, variant: &str, extra: &[&str]) -> (Vec<f64>, f64) {
    let path = gguf_path(model, variant).display().to_string();
    let text = text_path();
    let mut args = vec![
        "perplexity",
        "-m",
        &path,
        "-f",
        &text,
        "-c",
        CTX,
        "--chunks",
        CHUNKS,
        "--backend",
        "cpu",
    ];
    args.extend(extra);
    let out = lingot_ok(&args, None);
    let running: Vec<f64> = out
        .split(',')
        .filter_map(|item| item.trim().strip_prefix('[')?.split_once(']')?.1.parse().ok())
        .collect();
    let last = out.lines().last().expect("output");
    let value = last
        .strip_prefix("Final estimate: PPL = ")
        .and_then(|rest| rest.split(" +/- ").next())
        .unwrap_or_else(|| panic!("no final estimate in {out:?}"));
    (running, value.parse().unwrap_or_else(|e| panic!("{value:?}: {e}")))
}

fn assert_close(what: &str, got: f64, want: f64, rel: f64) {
    let err = (got - want).abs() / want;
    assert!(
        err <= rel,
        "{what}: ppl {got}, reference {want} (relative error {err:.2e} > {rel:.0e})"
    );
    eprintln!("{what}: ppl {got} vs reference {want} (relative error {err:.2e})");
}

fn check_model(model: &str) {
    for variant in variants(model) {
        let (running, ppl) = cli_ppl(model, &variant, &[]);
        assert_eq!(running.len(), 8, "{model}-{variant}: one running value per window");
        assert_eq!(
            running.last(),
            Some(&ppl),
            "{model}-{variant}: the last running value is the estimate"
        );
        assert_close(
            &format!("{model}-{variant}"),
            ppl,
            reference_ppl(model, &variant, "reference"),
            1e-4,
        );
    }
}

#[test]
fn tiny_ppl_matches_reference() {
    check_model("tiny");
}

#[test]
fn small_ppl_matches_reference() {
    check_model("small");
}

#[test]
fn austen_ppl_matches_reference() {
    check_model("austen");
}

#[test]
fn austen_plain_routing_matches_reference() {
    let plain = [
        "--override-kv",
        "bailingmoe2.expert_group_count=int:1",
        "--override-kv",
        "bailingmoe2.expert_group_used_count=int:1",
    ];
    for variant in variants("austen") {
        let (_, ppl) = cli_ppl("austen", &variant, &plain);
        assert_close(
            &format!("austen-{variant} plain routing"),
            ppl,
            reference_ppl("austen", &variant, "reference_plain_routing"),
            1e-4,
        );
    }
}

/// Micro-batches of 1, 7, 32 and 128 tokens: the same experts for every token of every window and the
/// same perplexity to 1e-6.
#[test]
fn austen_ppl_is_batch_invariant() {
    let path = gguf_path("austen", "Q8_0");
    let file = GgufFile::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let hp = HParams::from_gguf(&file).unwrap_or_else(|e| panic!("{e}"));
    let graph = build_graph(
        &hp,
        &file,
        GraphOptions {
            routing: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let tokenizer = Tokenizer::from_gguf(&file).unwrap_or_else(|e| panic!("{e}"));
    assert!(!tokenizer.add_bos(), "the reference was computed without BOS");
    let text = std::fs::read_to_string(text_path()).expect("read the text");
    let tokens = tokenizer.encode(&text, true).expect("tokenize");
    let n_ctx = 128;
    let mut runs = vec![];
    for ub in [128, 32, 7, 1] {
        let mut be = backend::open_choice(&file, BackendChoice::Cpu, n_ctx).unwrap_or_else(|e| panic!("{e:#}"));
        let params = PerplexityParams {
            n_ctx,
            n_chunks: Some(8),
            n_ubatch: ub,
        };
        let mut routing = vec![];
        let start = std::time::Instant::now();
        let result = perplexity(be.as_mut(), &graph, &tokens, None, params, &mut |_, ev, _| {
            routing.push(ev.routing.clone())
        })
        .unwrap_or_else(|e| panic!("-ub {ub}: {e:#}"));
        eprintln!("-ub {ub}: ppl {} in {:.1} s", result.ppl, start.elapsed().as_secs_f64());
        assert_eq!(routing.len(), 8, "-ub {ub}: 8 windows");
        assert_eq!(
            routing[0].len(),
            hp.block_count - hp.leading_dense_block_count,
            "-ub {ub}: routing of every MoE layer"
        );
        assert_eq!(routing[0][0].len(), n_ctx, "-ub {ub}: routing of every token");
        runs.push((ub, result, routing));
    }
    let (_, whole, whole_routing) = &runs[0];
    assert_close(
        "austen-Q8_0 -ub 128",
        whole.ppl,
        reference_ppl("austen", "Q8_0", "reference"),
        1e-4,
    );
    for (ub, result, routing) in &runs[1..] {
        for (w, (got, want)) in routing.iter().zip(whole_routing).enumerate() {
            for (layer, (g, r)) in got.iter().zip(want).enumerate() {
                for (t, (g, r)) in g.iter().zip(r).enumerate() {
                    assert_eq!(
                        g,
                        r,
                        "-ub {ub}: window {}, MoE layer {layer}, token {t}: experts differ from -ub 128",
                        w + 1
                    );
                }
            }
        }
        let rel = (result.ppl - whole.ppl).abs() / whole.ppl;
        assert!(
            rel <= 1e-6,
            "-ub {ub}: ppl {} vs {} with -ub 128 (relative {rel:.2e})",
            result.ppl,
            whole.ppl
        );
    }
}
