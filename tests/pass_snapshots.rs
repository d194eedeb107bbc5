//! Pass tests, text in and text out: every `tests/passes/<pass>/<case>.ir` starts with
//! `; run: <pass>, <pass>...` (or `default`); the graph after those passes (each verified) is
//! snapshotted in `tests/snapshots/`. A case with `; expect: unchanged` must come out as it went
//! in; any other must change. Every case that changes is also run before and after on the CPU
//! backend with random weights and inputs: the outputs must agree, so a snapshot can only record
//! a rewrite that keeps the graph's meaning.
//!
//! Also here: the op statistics of the whole tiny reference model before and after the default
//! pipeline, and a check that no snapshot is left without its test (cargo-insta's unreferenced
//! check, which CI cannot run here).

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use lingot_cpu::CpuBackend;
use lingot_ir::exec::{Backend, HostTensor, WeightData, Weights};
use lingot_ir::{Bindings, DType, Graph, Op};
use lingot_models::bailing_moe2::{build_graph, GraphOptions, HParams};
use lingot_models::gguf::GgufFile;
use lingot_passes::stats::op_stats;
use lingot_passes::{default_pipeline, Pipeline};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/passes");
const SNAPSHOTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/snapshots");

/// A case file: its pipeline, whether it must stay unchanged, and its graph.
struct Case {
    pipeline: Pipeline,
    unchanged: bool,
    graph: Graph,
}

fn read_case(path: &Path) -> Case {
    let what = path.display();
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {what}: {e}"));
    let first = text.lines().next().unwrap_or_default();
    let list = first
        .strip_prefix("; run:")
        .unwrap_or_else(|| panic!("{what}: the first line must be `; run: <pass>, ...`, found {first:?}"));
    let pipeline = Pipeline::parse(list).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(!pipeline.is_empty(), "{what}: `; run:` names no pass");
    let unchanged = text.lines().any(|l| l.trim() == "; expect: unchanged");
    let graph = lingot_ir::parse(&text).unwrap_or_else(|e| panic!("{what}: {e}"));
    Case {
        pipeline,
        unchanged,
        graph,
    }
}

/// Runs a case's passes; checks `expect: unchanged`, or that something changed.
fn run_case(path: &Path) -> (Graph, Graph, bool) {
    let Case {
        pipeline,
        unchanged,
        graph,
    } = read_case(path);
    let mut after = graph.clone();
    let changed = pipeline
        .run_verified(&mut after)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (before_text, after_text) = (lingot_ir::print(&graph), lingot_ir::print(&after));
    if unchanged {
        assert!(
            !changed,
            "{}: expected unchanged, but a pass reported a change",
            path.display()
        );
        assert_eq!(after_text, before_text, "{}: expected unchanged", path.display());
    } else {
        assert!(
            changed,
            "{}: no pass changed anything (add `; expect: unchanged` if meant)",
            path.display()
        );
        assert_ne!(
            after_text,
            before_text,
            "{}: passes reported a change but the text is the same",
            path.display()
        );
    }
    (graph, after, unchanged)
}

#[test]
fn pass_cases() {
    insta::glob!("passes/*/*.ir", |path| {
        let (_, after, _) = run_case(path);
        insta::assert_snapshot!(lingot_ir::print(&after));
    });
}

fn case_files() -> Vec<PathBuf> {
    let mut files = vec![];
    for dir in std::fs::read_dir(CASES).unwrap_or_else(|e| panic!("{CASES}: {e}")) {
        let dir = dir.expect("a directory entry").path();
        for f in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let f = f.expect("a directory entry").path();
            if f.extension().is_some_and(|e| e == "ir") {
                files.push(f);
            }
        }
    }
    files.sort();
    assert!(!files.is_empty(), "no pass cases in {CASES}");
    files
}

/// Random f32 weights for every `weight` node of a graph (cases use f32 weights only).
struct RandomWeights(HashMap<String, (Vec<usize>, Vec<u8>)>);

impl RandomWeights {
    fn new(g: &Graph, rng: &mut StdRng) -> RandomWeights {
        let mut map = HashMap::new();
        for id in g.g.node_indices() {
            if let Op::Weight { name } = &g.node(id).op {
                let ty = &g.node(id).results[0];
                assert_eq!(ty.dtype, DType::F32, "weight {name}: pass cases use f32 weights");
                let shape: Vec<usize> = ty
                    .shape
                    .dims()
                    .iter()
                    .map(|d| d.as_const().expect("a constant dim"))
                    .collect();
                let n: usize = shape.iter().product();
                let bytes = (0..n)
                    .flat_map(|_| rng.random_range(-1.0f32..1.0).to_le_bytes())
                    .collect();
                map.insert(name.clone(), (shape, bytes));
            }
        }
        RandomWeights(map)
    }
}

impl Weights for RandomWeights {
    fn weight(&self, name: &str) -> Option<WeightData<'_>> {
        let (shape, bytes) = self.0.get(name)?;
        Some(WeightData {
            dtype: DType::F32,
            shape,
            bytes,
        })
    }
}

/// Inputs for every `input` node: f32 uniform in [-1, 1); i32 `0, 1, 2, 0, ...`, which are the
/// positions of a three-token batch and valid ids into any table of three rows or more.
fn random_inputs(g: &Graph, b: &Bindings, rng: &mut StdRng) -> Vec<(String, HostTensor)> {
    let mut inputs = vec![];
    for id in g.g.node_indices() {
        if let Op::Input { name } = &g.node(id).op {
            let ty = &g.node(id).results[0];
            let shape = ty.shape.bind(b);
            let n: usize = shape.iter().product();
            let t = match ty.dtype {
                DType::I32 => HostTensor::I32 {
                    shape,
                    data: (0..n).map(|i| (i % 3) as i32).collect(),
                },
                _ => HostTensor::F32 {
                    shape,
                    data: (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect(),
                },
            };
            inputs.push((name.clone(), t));
        }
    }
    inputs
}

fn run_cpu(g: &Graph, w: &RandomWeights, inputs: &[(String, HostTensor)], b: Bindings) -> Vec<HostTensor> {
    let inputs: Vec<(&str, HostTensor)> = inputs.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
    CpuBackend::new(w).run(g, &inputs, b).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn rewrites_keep_results() {
    let b = Bindings { t: 3, kv: 3 };
    for path in case_files() {
        let (before, after, unchanged) = run_case(&path);
        if unchanged {
            continue;
        }
        let what = path.display();
        for seed in 0..4 {
            let mut rng = StdRng::seed_from_u64(seed);
            let weights = RandomWeights::new(&before, &mut rng);
            let inputs = random_inputs(&before, &b, &mut rng);
            let want = run_cpu(&before, &weights, &inputs, b);
            let got = run_cpu(&after, &weights, &inputs, b);
            assert_eq!(got.len(), want.len(), "{what}: number of outputs");
            for (i, (x, y)) in got.iter().zip(&want).enumerate() {
                let out = &after.outputs[i].1;
                assert_eq!(x.shape(), y.shape(), "{what}: output {out}: shape");
                match (x, y) {
                    (HostTensor::F32 { data: a, .. }, HostTensor::F32 { data: e, .. }) => {
                        for (j, (a, e)) in a.iter().zip(e).enumerate() {
                            assert!(
                                (a - e).abs() <= 1e-5 * (1.0 + e.abs()),
                                "{what}: output {out}[{j}]: {a} vs {e} unfused (seed {seed})"
                            );
                        }
                    }
                    _ => assert_eq!(x, y, "{what}: output {out} (seed {seed})"),
                }
            }
        }
    }
}

/// Op counts and kernel launches of the whole tiny reference model, before and after the
/// default pipeline.
#[test]
fn tiny_model_op_stats() {
    let path = common::gguf_path("tiny", "F32");
    let file = GgufFile::open(&path).unwrap_or_else(|e| panic!("{e}"));
    let hp = HParams::from_gguf(&file).unwrap_or_else(|e| panic!("{e}"));
    let mut g = build_graph(
        &hp,
        &file,
        GraphOptions {
            routing: true,
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let before = op_stats(&g);
    let pipeline = default_pipeline();
    pipeline.run_verified(&mut g).unwrap_or_else(|e| panic!("{e}"));
    let after = op_stats(&g);
    let text = format!(
        "tiny-F32: {} layers ({} dense), routing outputs on\n\n; before passes\n{before}\n; after {}\n{after}",
        hp.block_count,
        hp.leading_dense_block_count,
        pipeline.names().join(",")
    );
    insta::assert_snapshot!(text);
}

/// Snapshots written by tests that are not glob cases.
const NAMED_SNAPSHOTS: [&str; 1] = ["pass_snapshots__tiny_model_op_stats.snap"];

/// Every `.snap` belongs to a live test: a glob case whose `input_file` exists, or a named one.
#[test]
fn no_unreferenced_snapshots() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let entries = std::fs::read_dir(SNAPSHOTS).unwrap_or_else(|e| panic!("{SNAPSHOTS}: {e}"));
    let mut stale = vec![];
    for e in entries {
        let path = e.expect("a directory entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if !name.ends_with(".snap") {
            stale.push(format!(
                "{name} (not a .snap: pending .snap.new files must be reviewed, not left)"
            ));
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let input = text
            .lines()
            .skip(1)
            .take_while(|l| *l != "---")
            .find_map(|l| l.strip_prefix("input_file: "));
        let live = match input {
            Some(file) => name.starts_with("pass_snapshots__pass_cases@") && root.join(file.trim()).is_file(),
            None => NAMED_SNAPSHOTS.contains(&name.as_str()),
        };
        if !live {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "snapshots without a test in tests/snapshots: {stale:?}"
    );
}
