//! Shared helpers of the integration tests: where the reference data lives and how to compare.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

/// `$LINGOT_REFERENCE`, else `../shared/reference` from the project root. Panics with a clear
/// message when it is missing: a test that needs it must fail, never pass silently.
pub fn reference_dir() -> PathBuf {
    let dir = std::env::var_os("LINGOT_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference"));
    assert!(
        dir.join("README.md").is_file(),
        "reference data not found at {} (set LINGOT_REFERENCE to the shared/reference folder)",
        dir.display()
    );
    dir
}

pub fn manifest(model: &str) -> Json {
    let path = reference_dir().join(model).join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The variants (file types) of a reference model, from the `.gguf` files its folder holds.
pub fn variants(model: &str) -> Vec<String> {
    let dir = reference_dir().join(model);
    let mut v: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            Some(
                name.strip_prefix(&format!("{model}-"))?
                    .strip_suffix(".gguf")?
                    .to_string(),
            )
        })
        .collect();
    v.sort();
    assert!(!v.is_empty(), "no {model}-*.gguf in {}", dir.display());
    v
}

pub fn sequence(model: &str, seq: &str) -> Option<Vec<u32>> {
    let m = manifest(model);
    let s = m["sequences"].get(seq)?.as_array()?;
    Some(s.iter().map(|x| x.as_u64().expect("token id") as u32).collect())
}

pub fn gguf_path(model: &str, variant: &str) -> PathBuf {
    reference_dir().join(model).join(format!("{model}-{variant}.gguf"))
}

/// The reference logits `[n_tokens, n_vocab]`.
pub fn reference_logits(model: &str, variant: &str, seq: &str) -> (Vec<usize>, Vec<f32>) {
    let path = reference_dir().join(model).join(format!("logits-{variant}-{seq}.npy"));
    lingot_models::npy::read_f32(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The reference routing: per MoE layer, per token, the chosen expert ids.
pub fn reference_routing(model: &str, variant: &str, seq: &str) -> Vec<Vec<Vec<i32>>> {
    let path = reference_dir()
        .join(model)
        .join(format!("routing-{variant}-{seq}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Checks logits as the reference README defines a match: every logit within
/// `1e-3 * (1 + |ref|)` and the same argmax on every token. Returns the worst error.
pub fn assert_logits_match(what: &str, got: &[f32], want: &[f32], n_vocab: usize) -> f32 {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: {} logits, the reference has {}",
        got.len(),
        want.len()
    );
    let mut worst = 0f32;
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        assert!(
            err <= 1e-3 * (1.0 + w.abs()),
            "{what}: token {} logit {}: got {g}, reference {w}",
            i / n_vocab,
            i % n_vocab
        );
        worst = worst.max(err);
    }
    for (t, (g, w)) in got.chunks(n_vocab).zip(want.chunks(n_vocab)).enumerate() {
        assert_eq!(argmax(g), argmax(w), "{what}: token {t}: argmax differs");
    }
    worst
}

pub fn argmax(x: &[f32]) -> usize {
    x.iter()
        .enumerate()
        .fold(0, |best, (i, v)| if *v > x[best] { i } else { best })
}

/// Expert choices per layer per token, compared as sets.
pub fn assert_routing_match(what: &str, got: &[Vec<Vec<i32>>], want: &[Vec<Vec<i32>>]) {
    assert_eq!(
        got.len(),
        want.len(),
        "{what}: {} MoE layers, the reference has {}",
        got.len(),
        want.len()
    );
    for (l, (gl, wl)) in got.iter().zip(want).enumerate() {
        assert_eq!(gl.len(), wl.len(), "{what}: layer {l}: token counts differ");
        for (t, (g, w)) in gl.iter().zip(wl).enumerate() {
            let (mut g, mut w) = (g.clone(), w.clone());
            g.sort();
            w.sort();
            assert_eq!(g, w, "{what}: MoE layer {l}, token {t}: experts differ");
        }
    }
}

/// `$LINGOT_DATA`, else `../shared/data` from the project root (the texts perplexity is measured on).
/// Panics with a clear message when it is missing.
pub fn data_dir() -> PathBuf {
    let dir = std::env::var_os("LINGOT_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    assert!(
        dir.join("pride_and_prejudice.txt").is_file(),
        "data not found at {} (set LINGOT_DATA to the shared/data folder)",
        dir.display()
    );
    dir
}

/// The `lingot` binary's output for `args`, with `stdin` as its standard input (empty when `None`).
pub fn lingot(args: &[&str], stdin: Option<&str>) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_lingot"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start lingot: {e}"));
    let mut input = child.stdin.take().expect("stdin is piped");
    // A command that fails early may not read its input: a broken pipe here is not the test's business.
    let _ = input.write_all(stdin.unwrap_or("").as_bytes());
    drop(input);
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("lingot {args:?}: {e}"))
}

/// Like [`lingot`], asserting success; returns stdout.
pub fn lingot_ok(args: &[&str], stdin: Option<&str>) -> String {
    let out = lingot(args, stdin);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "lingot {args:?} failed ({}): {stderr}",
        out.status
    );
    String::from_utf8(out.stdout).unwrap_or_else(|e| panic!("lingot {args:?}: stdout is not UTF-8: {e}"))
}
