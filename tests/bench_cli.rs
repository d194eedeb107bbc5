//! `lingot bench` and `lingot sweep-bench` on the reference tiny model: the table columns and
//! rows llama-bench / sweep-bench print, the JSON field names their readers expect, a
//! well-formed SVG plot, and clear errors for bad flags. No speed is asserted.

mod common;

use std::path::PathBuf;

use common::*;
use serde_json::Value as Json;

fn tiny() -> String {
    gguf_path("tiny", "F32").to_str().expect("utf-8 path").to_string()
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lingot-bench-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn cells(line: &str) -> Vec<String> {
    line.trim()
        .trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_string())
        .collect()
}

#[test]
fn sweep_bench_prints_llamas_table() {
    let m = tiny();
    let out = lingot_ok(
        &["sweep-bench", "-m", &m, "--backend", "cpu", "-c", "64", "-ub", "16"],
        None,
    );
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(
        lines[0], "|    PP |     TG |   N_KV |   T_PP s | S_PP t/s |   T_TG s | S_TG t/s |",
        "{out}"
    );
    assert_eq!(
        lines[1], "|-------|--------|--------|----------|----------|----------|----------|",
        "{out}"
    );
    let rows = &lines[2..];
    assert_eq!(rows.len(), 4, "N_KV = 0, 16, 32, 48 while N_KV + 16 <= 64:\n{out}");
    for (i, row) in rows.iter().enumerate() {
        let c = cells(row);
        assert_eq!(c.len(), 7, "{row}");
        assert_eq!((c[0].as_str(), c[1].as_str()), ("16", "4"), "PP = ub, TG = ub/4: {row}");
        assert_eq!(c[2], (16 * i).to_string(), "{row}");
        for v in &c[3..] {
            let x: f64 = v.parse().unwrap_or_else(|_| panic!("{v} in {row}"));
            assert!(x.is_finite() && x >= 0.0, "{row}");
        }
        // Speed = tokens / time, to the printed precision.
        let (t_pp, s_pp): (f64, f64) = (c[3].parse().unwrap(), c[4].parse().unwrap());
        if t_pp >= 0.01 {
            assert!((16.0 / t_pp - s_pp).abs() <= 0.06 * s_pp, "{row}");
        }
    }
    // -n overrides TG.
    let out = lingot_ok(
        &[
            "sweep-bench",
            "-m",
            &m,
            "--backend",
            "cpu",
            "-c",
            "32",
            "-ub",
            "16",
            "-n",
            "2",
        ],
        None,
    );
    let rows: Vec<Vec<String>> = out.lines().filter(|l| l.starts_with("|    16")).map(cells).collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert!(rows.iter().all(|c| c[1] == "2"), "{out}");
}

#[test]
fn sweep_bench_json_lines_and_svg_plot() {
    let m = tiny();
    let svg = tmp("sweep.svg");
    let out = lingot_ok(
        &[
            "sweep-bench",
            "-m",
            &m,
            "--backend",
            "cpu",
            "-c",
            "48",
            "-ub",
            "16",
            "--json",
            "--plot",
            svg.to_str().unwrap(),
        ],
        None,
    );
    let lines: Vec<Json> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(lines.len(), 3, "{out}");
    for (i, l) in lines.iter().enumerate() {
        for key in [
            "n_kv_max",
            "n_batch",
            "n_ubatch",
            "n_threads",
            "pp",
            "tg",
            "n_kv",
            "t_pp",
            "speed_pp",
            "t_tg",
            "speed_tg",
        ] {
            assert!(l.get(key).is_some(), "{key} missing in {l}");
        }
        assert_eq!(
            (l["pp"].as_u64(), l["tg"].as_u64(), l["n_kv"].as_u64()),
            (Some(16), Some(4), Some(16 * i as u64))
        );
        assert!(l["speed_tg"].as_f64().unwrap() > 0.0);
    }
    let text = std::fs::read_to_string(&svg).expect("the plot is written");
    assert_well_formed(&text);
    assert!(text.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{text}");
    assert_eq!(text.matches("<polyline").count(), 2, "one line for S_PP, one for S_TG");
    assert_eq!(text.matches("<circle").count(), 6, "a point per step per line");
    assert!(text.contains("S_PP") && text.contains("S_TG") && text.contains("N_KV"));
}

/// Every tag closes in order, attributes are quoted, text has no bare `<` or `&`.
fn assert_well_formed(xml: &str) {
    let mut stack: Vec<String> = vec![];
    let mut rest = xml;
    while let Some(open) = rest.find('<') {
        let text = &rest[..open];
        assert!(!text.contains('>'), "stray > in text {text:?}");
        for (i, _) in text.match_indices('&') {
            let entity = &text[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;"]
                    .iter()
                    .any(|e| entity.starts_with(e)),
                "bare & in {text:?}"
            );
        }
        let close = rest[open..].find('>').expect("unclosed tag") + open;
        let tag = &rest[open + 1..close];
        assert_eq!(tag.matches('"').count() % 2, 0, "unbalanced quotes in <{tag}>");
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "</{name}> closes the wrong element");
        } else if !tag.ends_with('/') {
            stack.push(tag.split_whitespace().next().expect("tag name").to_string());
        }
        rest = &rest[close + 1..];
    }
    assert!(stack.is_empty(), "unclosed elements {stack:?}");
}

#[test]
fn bench_prints_llama_bench_rows() {
    let m = tiny();
    let out = lingot_ok(
        &[
            "bench",
            "-m",
            &m,
            "--backend",
            "cpu",
            "-p",
            "16,8",
            "-n",
            "4",
            "-r",
            "2",
            "-ub",
            "8",
        ],
        None,
    );
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(
        cells(lines[0]),
        ["model", "size", "params", "backend", "threads", "test", "t/s"],
        "{out}"
    );
    assert!(lines[1].starts_with("| ---") && lines[1].contains("---: |"), "{out}");
    let rows: Vec<Vec<String>> = lines[2..].iter().map(|l| cells(l)).collect();
    let tests: Vec<&str> = rows.iter().map(|r| r[5].as_str()).collect();
    assert_eq!(tests, ["pp16", "pp8", "tg4"], "{out}");
    for r in &rows {
        assert!(r[0].starts_with("bailingmoe2 ") && r[0].ends_with("all F32"), "{r:?}");
        assert!(r[1].ends_with(" MiB") && r[2].ends_with(" M") && r[3] == "CPU", "{r:?}");
        let (mean, sd) = r[6]
            .split_once(" ± ")
            .unwrap_or_else(|| panic!("t/s is mean ± sd: {r:?}"));
        assert!(
            mean.parse::<f64>().unwrap() > 0.0 && sd.parse::<f64>().unwrap() >= 0.0,
            "{r:?}"
        );
    }
    // The size column is the file's tensor bytes: F32 tiny is the reference file minus its header.
    let size_mib: f64 = rows[0][1].trim_end_matches(" MiB").parse().unwrap();
    let file_mib = std::fs::metadata(&m).unwrap().len() as f64 / (1u64 << 20) as f64;
    assert!(
        size_mib <= file_mib && size_mib > 0.9 * file_mib,
        "{size_mib} vs {file_mib}"
    );
}

#[test]
fn bench_json_has_llama_bench_fields() {
    let m = tiny();
    let out = lingot_ok(
        &[
            "bench",
            "-m",
            &m,
            "--backend",
            "cpu",
            "-p",
            "8",
            "-n",
            "3",
            "-r",
            "3",
            "--json",
        ],
        None,
    );
    let all: Json = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let tests = all.as_array().expect("a JSON array of tests");
    assert_eq!(tests.len(), 2);
    let fields = [
        "model_filename",
        "model_type",
        "model_size",
        "model_n_params",
        "n_batch",
        "n_ubatch",
        "n_threads",
        "n_prompt",
        "n_gen",
        "test_time",
        "avg_ns",
        "stddev_ns",
        "avg_ts",
        "stddev_ts",
        "samples_ns",
        "samples_ts",
        "backends",
        "cpu_info",
        "gpu_info",
        "build_commit",
    ];
    for t in tests {
        for f in fields {
            assert!(t.get(f).is_some(), "{f} missing in {t}");
        }
        assert_eq!(t["model_filename"].as_str(), Some(m.as_str()));
        assert_eq!(t["samples_ns"].as_array().map(Vec::len), Some(3));
        let ts: Vec<f64> = t["samples_ts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let ns: Vec<f64> = t["samples_ns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let n = (t["n_prompt"].as_u64().unwrap() + t["n_gen"].as_u64().unwrap()) as f64;
        for (s, n_s) in ts.iter().zip(&ns) {
            assert!((s - n * 1e9 / n_s).abs() <= 1e-6 * s, "t/s = tokens / time: {t}");
        }
        let mean = ts.iter().sum::<f64>() / ts.len() as f64;
        assert!((t["avg_ts"].as_f64().unwrap() - mean).abs() <= 1e-9 * mean, "{t}");
        let iso = t["test_time"].as_str().unwrap();
        assert!(
            iso.len() == 20 && iso.ends_with('Z') && &iso[4..5] == "-" && &iso[10..11] == "T",
            "{iso}"
        );
    }
    assert_eq!(
        (tests[0]["n_prompt"].as_u64(), tests[0]["n_gen"].as_u64()),
        (Some(8), Some(0))
    );
    assert_eq!(
        (tests[1]["n_prompt"].as_u64(), tests[1]["n_gen"].as_u64()),
        (Some(0), Some(3))
    );
    let jsonl = lingot_ok(
        &[
            "bench",
            "-m",
            &m,
            "--backend",
            "cpu",
            "-p",
            "8",
            "-n",
            "0",
            "-r",
            "1",
            "-o",
            "jsonl",
        ],
        None,
    );
    let lines: Vec<Json> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["n_prompt"].as_u64(), Some(8));
}

#[test]
fn bad_flags_are_clear_errors() {
    let m = tiny();
    let missing = tmp("no/such/dir/plot.svg");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["bench", "-m", &m, "-r", "0"], "--repetitions must be at least 1"),
        (vec!["bench", "-m", &m, "-p", "0", "-n", "0"], "nothing to run"),
        (vec!["bench", "-m", &m, "-ub", "0"], "--ubatch-size must be at least 1"),
        (vec!["bench", "-m", &m, "-p", "x"], "--n-prompt"),
        (vec!["bench", "-m", "/no/such/model.gguf"], "/no/such/model.gguf"),
        (vec!["sweep-bench", "-m", &m, "-c", "8", "-ub", "16"], "no step fits"),
        (vec!["sweep-bench", "-m", &m, "-c", "64", "-ub", "2"], "TG = ub/4"),
        (
            vec!["sweep-bench", "-m", &m, "-c", "64", "-ub", "16", "-n", "17"],
            "larger than -ub",
        ),
        (
            vec![
                "sweep-bench",
                "-m",
                &m,
                "--backend",
                "cpu",
                "-c",
                "16",
                "-ub",
                "16",
                "--plot",
                missing.to_str().unwrap(),
            ],
            "plot.svg",
        ),
    ];
    for (args, want) in cases {
        let o = lingot(&args, None);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} succeeded");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}
