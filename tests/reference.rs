//! Both backends against the model authors' reference: logits and expert choices of every
//! variant and sequence in ../shared/reference, and batch invariance. The graph is the one the
//! command line runs (after the default pass pipeline); the `unfused` tests run the front-end's
//! graph without passes against the same bar. The wgpu tests take the
//! best adapter, software ones (lavapipe) included, and fail when there is none.

mod common;

use common::*;
use lingot::backend::{self, BackendChoice};
use lingot::model::{evaluate, Evaluation};
use lingot_models::bailing_moe2::{build_graph, GraphOptions, HParams};
use lingot_models::gguf::GgufFile;

/// Which graph a test runs: after the default pipeline (what `lingot run` runs) or as the model
/// front-end builds it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Graphs {
    Fused,
    Unfused,
}

fn run(be: BackendChoice, model: &str, variant: &str, tokens: &[u32], ubatch: usize) -> Evaluation {
    run_graph(be, Graphs::Fused, model, variant, tokens, ubatch)
}

fn run_graph(
    be: BackendChoice,
    graphs: Graphs,
    model: &str,
    variant: &str,
    tokens: &[u32],
    ubatch: usize,
) -> Evaluation {
    let path = gguf_path(model, variant);
    let file = GgufFile::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let hp = HParams::from_gguf(&file).unwrap_or_else(|e| panic!("{e}"));
    let mut graph = build_graph(
        &hp,
        &file,
        GraphOptions {
            routing: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    if graphs == Graphs::Fused {
        lingot_passes::default_pipeline()
            .run_verified(&mut graph)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            graph.g.node_weights().any(|n| n.op.is_fused()),
            "{model}-{variant}: the default pipeline fused nothing"
        );
    }
    let mut be = backend::open_choice(&file, be, tokens.len()).unwrap_or_else(|e| panic!("{e:#}"));
    evaluate(be.as_mut(), &graph, tokens, 0, ubatch).unwrap_or_else(|e| panic!("{model}-{variant}: {e:#}"))
}

fn check_model(be: BackendChoice, model: &str) {
    check_graphs(be, Graphs::Fused, model)
}

fn check_graphs(be: BackendChoice, graphs: Graphs, model: &str) {
    for variant in variants(model) {
        for seq in ["a", "b"] {
            let Some(tokens) = sequence(model, seq) else { continue };
            let what = format!("{be:?} ({graphs:?}): {model}-{variant} sequence {seq}");
            let ev = run_graph(be, graphs, model, &variant, &tokens, tokens.len());
            let (shape, want) = reference_logits(model, &variant, seq);
            assert_eq!(shape, vec![tokens.len(), ev.n_vocab], "{what}: logits shape");
            let worst = assert_logits_match(&what, &ev.logits, &want, ev.n_vocab);
            assert_routing_match(&what, &ev.routing, &reference_routing(model, &variant, seq));
            eprintln!("{what}: max |error| {worst:.2e}");
        }
    }
}

const CPU: BackendChoice = BackendChoice::Cpu;
const WGPU: BackendChoice = BackendChoice::Wgpu {
    device: None,
    auto: false,
};

#[test]
fn cpu_tiny_matches_reference() {
    check_model(CPU, "tiny");
}

#[test]
fn cpu_small_matches_reference() {
    check_model(CPU, "small");
}

#[test]
fn cpu_austen_matches_reference() {
    check_model(CPU, "austen");
}

/// The graph without passes meets the same bar: fusion changes how, never what.
#[test]
fn cpu_tiny_unfused_matches_reference() {
    check_graphs(CPU, Graphs::Unfused, "tiny");
}

#[test]
fn cpu_austen_unfused_matches_reference() {
    check_graphs(CPU, Graphs::Unfused, "austen");
}

#[test]
fn wgpu_tiny_unfused_matches_reference() {
    check_graphs(WGPU, Graphs::Unfused, "tiny");
}

#[test]
fn wgpu_tiny_matches_reference() {
    check_model(WGPU, "tiny");
}

#[test]
fn wgpu_small_matches_reference() {
    check_model(WGPU, "small");
}

#[test]
fn wgpu_austen_matches_reference() {
    check_model(WGPU, "austen");
}

/// Sequence b in one batch, one token at a time through the KV cache, and in micro-batches of
/// 7: the same experts for every token and logits equal to f32 summation error. (A GPU may use a
/// mat-vec kernel for one token and a tiled one for many, which sum in different orders; over six
/// layers that moves a logit by ~1e-5, ten times below the reference bar of 1e-3.)
fn check_batch_invariance(be: BackendChoice, model: &str, variant: &str) {
    let tokens = sequence(model, "b").expect("sequence b");
    let whole = run(be, model, variant, &tokens, tokens.len());
    for ub in [1, 7] {
        let split = run(be, model, variant, &tokens, ub);
        let what = format!("{be:?}: {model}-{variant} in micro-batches of {ub}");
        assert_eq!(split.routing, whole.routing, "{what}: expert choices differ");
        for (i, (a, b)) in split.logits.iter().zip(&whole.logits).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                "{what}: logit {i}: {a} vs {b} in one batch"
            );
        }
    }
}

#[test]
fn cpu_batch_invariance_tiny() {
    check_batch_invariance(CPU, "tiny", "F32");
}

#[test]
fn cpu_batch_invariance_austen() {
    check_batch_invariance(CPU, "austen", "Q8_0");
}

#[test]
fn wgpu_batch_invariance_austen() {
    check_batch_invariance(WGPU, "austen", "Q4_K_M");
}
