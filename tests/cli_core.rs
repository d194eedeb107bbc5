//! The core commands through the binary: `logits` writes what the reference expects, `dump-ir`
//! output survives `ir check` byte for byte, and bad input gets a clear error, never a panic.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

use common::*;

fn lingot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lingot"))
        .args(args)
        .output()
        .expect("the lingot binary runs")
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lingot-cli-core-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn logits_command_writes_reference_logits_and_routing() {
    let tokens = sequence("tiny", "a").expect("sequence a");
    let ids: Vec<String> = tokens.iter().map(u32::to_string).collect();
    let (out, routing) = (tmp("tiny.npy"), tmp("tiny-routing.json"));
    let model = gguf_path("tiny", "Q8_0");
    let o = lingot(&[
        "logits",
        "-m",
        model.to_str().unwrap(),
        "--backend",
        "cpu",
        "--tokens",
        &ids.join(" "),
        "--out",
        out.to_str().unwrap(),
        "--routing-out",
        routing.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "lingot logits failed: {}", stderr(&o));
    let (shape, got) = lingot_models::npy::read_f32(&out).expect("logits .npy");
    let (want_shape, want) = reference_logits("tiny", "Q8_0", "a");
    assert_eq!(shape, want_shape);
    assert_logits_match("lingot logits tiny-Q8_0", &got, &want, shape[1]);
    let text = std::fs::read_to_string(&routing).expect("routing json");
    let got: Vec<Vec<Vec<i32>>> = serde_json::from_str(&text).expect("routing is JSON in the reference layout");
    assert_routing_match(
        "lingot logits --routing-out",
        &got,
        &reference_routing("tiny", "Q8_0", "a"),
    );
}

#[test]
fn dump_ir_survives_ir_check_byte_for_byte() {
    for model in [gguf_path("tiny", "F32"), gguf_path("austen", "Q4_K_M")] {
        let o = lingot(&["dump-ir", "-m", model.to_str().unwrap()]);
        assert!(o.status.success(), "dump-ir failed: {}", stderr(&o));
        let text = String::from_utf8(o.stdout).expect("IR is UTF-8");
        assert!(text.contains("group_mask") && text.contains("mul_mat_id") && text.contains("top_k"));
        let file = tmp("model.ir");
        std::fs::write(&file, &text).expect("write IR");
        let o = lingot(&["ir", "check", file.to_str().unwrap()]);
        assert!(o.status.success(), "ir check failed: {}", stderr(&o));
        assert_eq!(
            String::from_utf8(o.stdout).expect("UTF-8"),
            text,
            "ir check changed the text of {}",
            model.display()
        );
    }
}

#[test]
fn dump_ir_dot_is_a_digraph() {
    let o = lingot(&["dump-ir", "--format", "dot"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8(o.stdout).expect("UTF-8");
    assert!(
        text.trim_start().starts_with("digraph"),
        "DOT output starts with digraph"
    );
    assert!(text.trim_end().ends_with('}'));
}

#[test]
fn bad_input_gets_a_clear_error() {
    let model = gguf_path("tiny", "F32");
    let m = model.to_str().unwrap();
    let out = tmp("never.npy");
    let o = out.to_str().unwrap();
    let broken_ir = tmp("broken.ir");
    std::fs::write(
        &broken_ir,
        "%0 = input \"tokens\" : i32[t]\n%1 = frobnicate %0 : f32[t]\n",
    )
    .unwrap();
    let not_gguf = tmp("not.gguf");
    std::fs::write(&not_gguf, b"this is not a gguf file").unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["logits", "-m", "/nonexistent/model.gguf", "--tokens", "1", "--out", o],
            "/nonexistent/model.gguf",
        ),
        (
            vec!["logits", "-m", not_gguf.to_str().unwrap(), "--tokens", "1", "--out", o],
            "not.gguf",
        ),
        (vec!["logits", "-m", m, "--tokens", "1 x 2", "--out", o], "--tokens"),
        (vec!["logits", "-m", m, "--tokens", "99999", "--out", o], "vocabulary"),
        (vec!["logits", "-m", m, "--tokens", "", "--out", o], "--tokens"),
        (
            vec![
                "logits",
                "-m",
                m,
                "--tokens",
                "1",
                "--out",
                o,
                "--override-kv",
                "bailingmoe2.expert_used_count",
            ],
            "--override-kv",
        ),
        (
            vec![
                "logits",
                "-m",
                m,
                "--tokens",
                "1",
                "--out",
                o,
                "--override-kv",
                "bailingmoe2.expert_used_count=int:99",
            ],
            "expert_used_count",
        ),
        (
            vec!["logits", "-m", m, "--tokens", "1", "--out", "/nonexistent/dir/x.npy"],
            "/nonexistent/dir",
        ),
        (vec!["ir", "check", broken_ir.to_str().unwrap()], "line 2"),
        (vec!["ir", "check", "/nonexistent.ir"], "/nonexistent.ir"),
    ];
    for (args, needle) in cases {
        let r = lingot(&args);
        let err = stderr(&r);
        assert!(!r.status.success(), "{args:?} should fail");
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
        assert!(
            err.contains(needle),
            "{args:?}: the error should mention {needle:?}: {err}"
        );
    }
    assert!(!out.exists(), "a failed run must not leave an output file");
}

#[test]
fn override_kv_changes_routing() {
    // expert_used_count=int:2 must route every token to exactly two experts.
    let model = gguf_path("tiny", "F32");
    let routing = tmp("k2.json");
    let o = lingot(&[
        "logits",
        "-m",
        model.to_str().unwrap(),
        "--backend",
        "cpu",
        "--tokens",
        "5 6 7",
        "--out",
        tmp("k2.npy").to_str().unwrap(),
        "--routing-out",
        routing.to_str().unwrap(),
        "--override-kv",
        "bailingmoe2.expert_used_count=int:2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got: Vec<Vec<Vec<i32>>> = serde_json::from_str(&std::fs::read_to_string(&routing).unwrap()).unwrap();
    assert!(
        !got.is_empty() && got.iter().all(|l| l.iter().all(|t| t.len() == 2)),
        "{got:?}"
    );
}

/// A malformed `LINGOT_WGPU_SUBMIT` is an error that names the variable, not a silent default.
#[test]
fn a_bad_submit_size_in_the_environment_is_named() {
    let model = gguf_path("tiny", "F32");
    let out = tmp("never-env.npy");
    let r = Command::new(env!("CARGO_BIN_EXE_lingot"))
        .args([
            "logits",
            "-m",
            model.to_str().unwrap(),
            "--backend",
            "wgpu",
            "--tokens",
            "1",
        ])
        .args(["--out", out.to_str().unwrap()])
        .env("LINGOT_WGPU_SUBMIT", "lots")
        .output()
        .expect("the lingot binary runs");
    let err = stderr(&r);
    assert!(!r.status.success(), "should fail: {err}");
    assert!(!err.contains("panicked"), "panicked: {err}");
    assert!(
        err.contains("LINGOT_WGPU_SUBMIT"),
        "the error should name the variable: {err}"
    );
    assert!(!out.exists(), "a failed run must not leave an output file");
}
