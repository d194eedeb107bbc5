//! `lingot tokenize` against the reference tokenizer and chat-template cases, driven through the binary,
//! and bad input to `tokenize`, `run` and `perplexity`: a clear message naming the file or flag, a
//! non-zero exit, never a panic.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value as Json;

fn tiny() -> String {
    gguf_path("tiny", "F32").display().to_string()
}

fn read_json(path: &Path) -> Json {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The JSON array on the last line of `tokenize`'s stdout.
fn ids_of(stdout: &str) -> Vec<u32> {
    let last = stdout
        .lines()
        .last()
        .unwrap_or_else(|| panic!("tokenize printed nothing"));
    serde_json::from_str(last).unwrap_or_else(|e| panic!("last line {last:?} is not a JSON array of ids: {e}"))
}

fn ids(value: &Json) -> Vec<u32> {
    let list = value.as_array().expect("ids array");
    list.iter().map(|x| x.as_u64().expect("token id") as u32).collect()
}

/// A scratch folder for this test process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lingot-cli-text-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

#[test]
fn tokenize_matches_the_reference_cases() {
    let cases = read_json(&reference_dir().join("tokenizer-cases.json"));
    let cases = cases.as_array().expect("a list of cases");
    assert!(!cases.is_empty(), "no tokenizer cases");
    let model = tiny();
    for case in cases {
        let text = case["text"].as_str().expect("text");
        let want = ids(&case["ids"]);
        // As an argument (after `--`, so a leading dash stays text) and on standard input.
        let from_arg = ids_of(&lingot_ok(&["tokenize", "-m", &model, "--", text], None));
        assert_eq!(from_arg, want, "tokenize {text:?}");
        let from_stdin = ids_of(&lingot_ok(&["tokenize", "-m", &model, "--ids"], Some(text)));
        assert_eq!(from_stdin, want, "tokenize {text:?} from stdin");
    }
}

#[test]
fn tokenize_prints_pieces_then_the_array() {
    let out = lingot_ok(&["tokenize", "-m", &tiny(), "Hello world"], None);
    let lines: Vec<&str> = out.lines().collect();
    let ids = ids_of(&out);
    assert_eq!(lines.len(), ids.len() + 1, "one line per token, then the array: {out}");
    for (line, id) in lines.iter().zip(&ids) {
        assert!(
            line.trim_start().starts_with(&format!("{id} -> ")),
            "line {line:?} for token {id}"
        );
    }
    let only = lingot_ok(&["tokenize", "-m", &tiny(), "--ids", "Hello world"], None);
    assert_eq!(only.trim_end(), serde_json::to_string(&ids).expect("json"));
}

#[test]
fn no_parse_special_keeps_special_strings_as_text() {
    let model = tiny();
    let file = lingot_models::gguf::GgufFile::open(Path::new(&model)).expect("open tiny");
    let tokenizer = lingot_models::tokenizer::Tokenizer::from_gguf(&file).expect("tokenizer");
    let text = "Hi<|role_end|><role>HUMAN</role>";
    let parsed = ids_of(&lingot_ok(&["tokenize", "-m", &model, "--ids", text], None));
    let plain = ids_of(&lingot_ok(
        &["tokenize", "-m", &model, "--ids", "--no-parse-special", text],
        None,
    ));
    assert!(
        parsed.iter().any(|&id| tokenizer.is_control(id)),
        "special strings become control tokens: {parsed:?}"
    );
    assert!(
        !plain.iter().any(|&id| tokenizer.is_control(id)),
        "--no-parse-special: no control token: {plain:?}"
    );
    assert_eq!(
        tokenizer.decode(&plain).expect("decode"),
        text,
        "--no-parse-special ids spell the text"
    );
}

#[test]
fn tokenize_chat_matches_the_reference_conversations() {
    let cases = read_json(&reference_dir().join("chat-template-cases.json"));
    let cases = cases.as_array().expect("a list of cases");
    assert!(!cases.is_empty(), "no chat template cases");
    let dir = scratch("chat");
    for (i, case) in cases.iter().enumerate() {
        assert_eq!(
            case["add_generation_prompt"], true,
            "case {i}: --chat always adds the generation prompt"
        );
        let path = dir.join(format!("messages-{i}.json"));
        std::fs::write(&path, case["messages"].to_string()).expect("write messages");
        let got = ids_of(&lingot_ok(
            &[
                "tokenize",
                "-m",
                &tiny(),
                "--ids",
                "--chat",
                path.to_str().expect("utf-8"),
            ],
            None,
        ));
        assert_eq!(got, ids(&case["ids"]), "case {i}: {}", case["text"]);
    }
}

#[test]
fn chat_template_file_overrides_the_models() {
    let dir = scratch("template");
    let template = dir.join("template.jinja");
    std::fs::write(&template, "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}").expect("write");
    let messages = dir.join("messages.json");
    std::fs::write(&messages, r#"[{"role": "user", "content": "Good morning"}]"#).expect("write");
    let (t, m) = (template.to_str().expect("utf-8"), messages.to_str().expect("utf-8"));
    let got = ids_of(&lingot_ok(
        &[
            "tokenize",
            "-m",
            &tiny(),
            "--ids",
            "--chat",
            m,
            "--chat-template-file",
            t,
        ],
        None,
    ));
    let want = ids_of(&lingot_ok(
        &["tokenize", "-m", &tiny(), "--ids", "user: Good morning\nassistant:"],
        None,
    ));
    assert_eq!(got, want);
}

/// Runs `args`, expecting a failure whose stderr mentions `needle`, and no panic.
fn assert_fails(args: &[&str], stdin: Option<&str>, needle: &str) {
    let out = lingot(args, stdin);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "lingot {args:?} should fail; stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "lingot {args:?} panicked: {stderr}");
    assert!(
        stderr.contains(needle),
        "lingot {args:?}: stderr should mention {needle:?}: {stderr}"
    );
}

#[test]
fn bad_input_gets_a_clear_message() {
    let dir = scratch("bad");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path.to_str().expect("utf-8").to_string()
    };
    let short = write(
        "short.txt",
        "It is a truth universally acknowledged, that a single man in possession of a good fortune.",
    );
    let truncated = write("truncated.json", r#"[{"role": "user", "content": "Hi""#);
    let not_array = write("object.json", r#"{"role": "user", "content": "Hi"}"#);
    let bad_content = write("content.json", r#"[{"role": "user", "content": 3}]"#);
    let binary = dir.join("binary.txt");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x80]).expect("write");
    let binary = binary.to_str().expect("utf-8").to_string();
    let missing = dir.join("missing.gguf").to_str().expect("utf-8").to_string();
    let not_gguf = short.clone();
    let model = tiny();
    let cpu = ["--backend", "cpu"];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        // Missing or unreadable files.
        (vec!["run", "-m", &missing, "-p", "x"], "missing.gguf"),
        (vec!["perplexity", "-m", &missing, "-f", &short], "missing.gguf"),
        (vec!["tokenize", "-m", &missing, "x"], "missing.gguf"),
        (vec!["tokenize", "-m", &not_gguf, "x"], "short.txt"),
        (
            vec!["perplexity", "-m", &model, "-f", "/nonexistent/text.txt"],
            "/nonexistent/text.txt",
        ),
        (vec!["perplexity", "-m", &model, "-f", &binary], "binary.txt"),
        (
            vec!["tokenize", "-m", &model, "--chat", "/nonexistent/messages.json"],
            "/nonexistent/messages.json",
        ),
        (
            vec![
                "run",
                "-m",
                &model,
                "--chat",
                "-p",
                "x",
                "--chat-template-file",
                "/nonexistent/t.jinja",
            ],
            "/nonexistent/t.jinja",
        ),
        // Text too short for two windows; context beyond the model's; prompt beyond the context.
        (
            vec!["perplexity", "-m", &model, "-f", &short, "-c", "128"],
            "you need at least 2*n_ctx",
        ),
        (
            vec!["perplexity", "-m", &model, "-f", &short, "-c", "1000000"],
            "-c 1000000",
        ),
        (vec!["run", "-m", &model, "-c", "1000000", "-p", "x"], "-c 1000000"),
        (
            vec![
                "run",
                "-m",
                &model,
                "-c",
                "4",
                "-p",
                "It is a truth universally acknowledged",
            ],
            "longer than the context",
        ),
        // Malformed chat JSON.
        (vec!["tokenize", "-m", &model, "--chat", &truncated], "truncated.json"),
        (vec!["tokenize", "-m", &model, "--chat", &not_array], "object.json"),
        (vec!["tokenize", "-m", &model, "--chat", &bad_content], "content.json"),
        (vec!["run", "-m", &model, "--messages", &truncated], "truncated.json"),
        (vec!["run", "-m", &model, "--messages", &bad_content], "content.json"),
        // Invalid flag values.
        (vec!["run", "-m", &model, "-p", "x", "--temp", "-1"], "--temp"),
        (vec!["run", "-m", &model, "-p", "x", "--top-p", "2"], "--top-p"),
        (vec!["run", "-m", &model, "-p", "x", "--min-p", "-0.5"], "--min-p"),
        (
            vec!["run", "-m", &model, "-p", "x", "--repeat-penalty", "0"],
            "--repeat-penalty",
        ),
        (vec!["run", "-m", &model, "-p", "x", "-n", "-2"], "--n-predict"),
        (vec!["run", "-m", &model, "-p", "x", "--top-k", "many"], "--top-k"),
        (vec!["run", "-m", &model, "-p", "x", "-c", "0"], "-c/--ctx-size"),
        (vec!["run", "-m", &model, "-p", ""], "the prompt is empty"),
        (
            vec!["perplexity", "-m", &model, "-f", &short, "-c", "0"],
            "-c/--ctx-size",
        ),
        (
            vec!["perplexity", "-m", &model, "-f", &short, "-ub", "0"],
            "-ub/--ubatch-size",
        ),
        (
            vec!["perplexity", "-m", &model, "-f", &short, "-b", "0"],
            "-b/--batch-size",
        ),
        (
            vec!["perplexity", "-m", &model, "-f", &short, "--chunks", "0"],
            "--chunks",
        ),
        (
            vec!["perplexity", "-m", &model, "-f", &short, "-t", "0"],
            "-t/--threads",
        ),
        (
            vec!["perplexity", "-m", &model, "-f", &short, "--override-kv", "nonsense"],
            "--override-kv",
        ),
    ];
    for (mut args, needle) in cases {
        if args[0] != "tokenize" {
            args.extend(cpu);
        }
        assert_fails(&args, None, needle);
    }
}
