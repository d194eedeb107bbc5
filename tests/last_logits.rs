//! `GraphOptions::last_logits`: the graph that computes logits for the last row only (as
//! generation and the benchmarks run it) gives exactly the last row of the full graph's logits,
//! on the CPU and on wgpu (the best adapter, lavapipe included; the test fails without one).
//! Both graphs go through the default pass pipeline, as the command line runs them.

use lingot::backend::{self, BackendChoice};
use lingot::model::eval;
use lingot_models::bailing_moe2::{build_graph, GraphOptions, HParams};
use lingot_models::gguf::GgufFile;

fn graph(file: &GgufFile, hp: &HParams, last_logits: bool) -> lingot_ir::Graph {
    let mut g = build_graph(
        hp,
        file,
        GraphOptions {
            last_logits,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    lingot_passes::default_pipeline()
        .run_verified(&mut g)
        .unwrap_or_else(|e| panic!("{e}"));
    g
}

fn check(choice: BackendChoice) {
    let path = std::path::Path::new(lingot::model::DEFAULT_MODEL);
    let file = GgufFile::open(path).unwrap_or_else(|e| panic!("{e}"));
    let hp = HParams::from_gguf(&file).unwrap_or_else(|e| panic!("{e}"));
    let (full, last) = (graph(&file, &hp, false), graph(&file, &hp, true));
    let prompt: Vec<u32> = (0..13).map(|i| (i * 37 + 5) % hp.vocab_size as u32).collect();
    let mut be = backend::open_choice(&file, choice, 32).unwrap_or_else(|e| panic!("{e:#}"));
    // a prompt batch from an empty cache, then a decode step and a second batch after it
    for (tokens, n_past) in [(&prompt[..], 0), (&prompt[..1], 13), (&prompt[2..9], 14)] {
        let what = format!("{choice:?}: {} tokens at {n_past}", tokens.len());
        let want = eval(be.as_mut(), &full, tokens, n_past).unwrap_or_else(|e| panic!("{what}: {e:#}"));
        let got = eval(be.as_mut(), &last, tokens, n_past).unwrap_or_else(|e| panic!("{what}: {e:#}"));
        let (want, got) = (&want[0], &got[0]);
        let vocab = hp.vocab_size;
        assert_eq!(want.shape(), &[tokens.len(), vocab], "{what}: full logits shape");
        assert_eq!(got.shape(), &[1, vocab], "{what}: last-row logits shape");
        let want = want.as_f32().expect("f32 logits");
        let got = got.as_f32().expect("f32 logits");
        let row = &want[(tokens.len() - 1) * vocab..];
        let worst = row.iter().zip(got).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        let scale = row.iter().map(|a| a.abs()).fold(0.0f32, f32::max);
        // the same arithmetic on the same row: equal up to the order of a batched sum
        assert!(
            worst <= 1e-4 * scale.max(1.0),
            "{what}: max |difference| {worst} (max |logit| {scale})"
        );
    }
}

#[test]
fn cpu_last_row_logits_equal_the_full_graphs_last_row() {
    check(BackendChoice::Cpu);
}

#[test]
fn wgpu_last_row_logits_equal_the_full_graphs_last_row() {
    check(BackendChoice::Wgpu {
        device: None,
        auto: false,
    });
}
