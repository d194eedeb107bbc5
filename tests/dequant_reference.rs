//! The CPU backend's dequantization against gguf-py, bit for bit: every `dequant_samples` entry
//! of every variant in ../shared/reference/{tiny,small,austen}/manifest.json names a GGUF file,
//! a tensor and its quant type; the .npy holds the tensor's first rows as gguf-py dequantized
//! them. Then every tensor of every reference GGUF must dequantize, row by row, to finite values.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lingot_cpu::quant::{dequantize_row, dot_row};
use lingot_ir::DType;
use lingot_models::gguf::{GgufFile, TensorInfo};
use lingot_models::npy;
use serde_json::Value;

const MODELS: [&str; 3] = ["tiny", "small", "austen"];

fn reference_dir() -> PathBuf {
    let dir = std::env::var_os("LINGOT_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference"));
    assert!(
        dir.join("tiny/manifest.json").is_file(),
        "reference data not found at {} (set LINGOT_REFERENCE to the shared/reference folder)",
        dir.display()
    );
    dir
}

fn manifest(dir: &Path) -> Value {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn field<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("manifest entry without string {key:?}: {v}"))
}

fn open(path: &Path) -> GgufFile {
    GgufFile::open(path).unwrap_or_else(|e| panic!("{e}"))
}

/// Bytes of one row of `t` (its innermost dimension).
fn row_bytes(t: &TensorInfo) -> usize {
    let cols = t.shape.last().copied().unwrap_or(1);
    let bytes = t.dtype.row_bytes(cols as u64);
    let bytes = bytes.unwrap_or_else(|| panic!("{}: {cols} columns of {}", t.name, t.dtype));
    bytes as usize
}

/// Checks one sample; returns the number of rows compared.
fn check_sample(dir: &Path, gguf: &GgufFile, sample: &Value) -> usize {
    let (name, file) = (field(sample, "tensor"), field(sample, "file"));
    let dtype = DType::from_name(field(sample, "type")).expect("known quant type");
    let t = gguf
        .tensor(name)
        .unwrap_or_else(|| panic!("{}: no tensor {name}", gguf.path().display()));
    assert_eq!(t.dtype, dtype, "{file}: {name} is {} in the GGUF", t.dtype);
    let (shape, want) = npy::read_f32(&dir.join(file)).unwrap_or_else(|e| panic!("{e}"));
    let cols = *t.shape.last().expect("a tensor has a shape");
    assert_eq!(shape.len(), 2, "{file}: shape {shape:?}");
    assert_eq!(shape[1], cols, "{file}: {shape:?} against tensor shape {:?}", t.shape);
    let data = gguf.tensor_data(t);
    let rb = row_bytes(t);
    let mut got = vec![0f32; cols];
    for (r, want) in want.chunks(cols).enumerate() {
        let bytes = &data[r * rb..][..rb];
        dequantize_row(dtype, bytes, &mut got).unwrap_or_else(|e| panic!("{file} row {r}: {e}"));
        for (c, (g, w)) in got.iter().zip(want).enumerate() {
            assert_eq!(
                g.to_bits(),
                w.to_bits(),
                "{file} [{dtype}] row {r} col {c}: got {g:e}, gguf-py {w:e}"
            );
        }
        // The dot product reads the same values: x = 1, -1, 1, ... must give their alternating sum.
        let x: Vec<f32> = (0..cols).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
        let exact: f64 = want.iter().zip(&x).map(|(&w, &x)| w as f64 * x as f64).sum();
        let mag: f64 = want.iter().map(|w| w.abs() as f64).sum();
        let dot = dot_row(dtype, bytes, &x).unwrap_or_else(|e| panic!("{file} row {r}: {e}")) as f64;
        assert!(
            (dot - exact).abs() <= mag * cols as f64 * 1.2e-7,
            "{file} row {r}: dot {dot} vs {exact}"
        );
    }
    shape[0]
}

#[test]
fn dequantization_matches_gguf_py_bit_for_bit() {
    let root = reference_dir();
    let mut rows_per_type: BTreeMap<DType, usize> = BTreeMap::new();
    for model in MODELS {
        let dir = root.join(model);
        let manifest = manifest(&dir);
        let variants = manifest["variants"].as_array().expect("manifest has variants");
        for variant in variants {
            let Some(samples) = variant["dequant_samples"].as_array() else {
                continue;
            };
            let gguf = open(&dir.join(field(variant, "file")));
            for sample in samples {
                let rows = check_sample(&dir, &gguf, sample);
                let dtype = DType::from_name(field(sample, "type")).expect("known quant type");
                *rows_per_type.entry(dtype).or_default() += rows;
            }
        }
    }
    eprintln!("rows compared per type: {rows_per_type:?}");
    // Every type the reference holds must have been compared (Q4_1/Q5_1 have no reference file;
    // tests/quant_blocks.rs in lingot-cpu covers them).
    let expected = [
        DType::F16,
        DType::BF16,
        DType::Q8_0,
        DType::Q4_0,
        DType::Q5_0,
        DType::Q2K,
        DType::Q3K,
        DType::Q4K,
        DType::Q5K,
        DType::Q6K,
    ];
    for dtype in expected {
        assert!(
            rows_per_type.get(&dtype).is_some_and(|&n| n > 0),
            "no reference rows of {dtype} were compared"
        );
    }
}

#[test]
fn every_reference_tensor_dequantizes_to_finite_values() {
    let root = reference_dir();
    let mut tensors = 0;
    for model in MODELS {
        let dir = root.join(model);
        let manifest = manifest(&dir);
        for variant in manifest["variants"].as_array().expect("manifest has variants") {
            let gguf = open(&dir.join(field(variant, "file")));
            for t in gguf.tensors().iter().filter(|t| t.dtype != DType::I32) {
                let cols = t.shape.last().copied().unwrap_or(1);
                let data = gguf.tensor_data(t);
                assert_eq!(data.len() as u64, t.size, "{}: {}", gguf.path().display(), t.name);
                let mut out = vec![0f32; cols];
                for (r, bytes) in data.chunks(row_bytes(t)).enumerate() {
                    dequantize_row(t.dtype, bytes, &mut out)
                        .unwrap_or_else(|e| panic!("{}: {} row {r}: {e}", gguf.path().display(), t.name));
                    assert!(
                        out.iter().all(|v| v.is_finite()),
                        "{}: {} row {r}",
                        gguf.path().display(),
                        t.name
                    );
                }
                tensors += 1;
            }
        }
    }
    eprintln!("{tensors} tensors dequantized");
    assert!(tensors > 100, "only {tensors} tensors found");
}
