//! Every GGUF under the reference folder opens, and what it holds agrees with an independent
//! account: the folder's `manifest.json` (hparams, file sizes, tensor types) and the tensor list
//! that BAILING_MOE2.md derives from those hparams. The data offsets are checked by decoding
//! sampled rows by hand and comparing them bit for bit with gguf-py's dequantized `.npy` samples.

mod common;

use common::reference_dir;

use std::collections::{BTreeMap, BTreeSet};

use half::{bf16, f16};
use lingot_ir::exec::Weights;
use lingot_ir::DType;
use lingot_models::gguf::GgufFile;
use lingot_models::npy;
use serde_json::Value;

fn manifest(model: &str) -> Value {
    let path = reference_dir().join(model).join("manifest.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn hp(m: &Value, key: &str) -> u64 {
    m["hparams"][key]
        .as_u64()
        .unwrap_or_else(|| panic!("manifest hparams.{key} is not an integer"))
}

fn hp_f(m: &Value, key: &str) -> f64 {
    m["hparams"][key]
        .as_f64()
        .unwrap_or_else(|| panic!("manifest hparams.{key} is not a number"))
}

/// Tensor names and ggml dims as BAILING_MOE2.md lays them out for these hparams.
fn expected_tensors(m: &Value) -> BTreeMap<String, Vec<u64>> {
    let h = hp(m, "hidden_size");
    let v = m["vocab_size"].as_u64().expect("manifest vocab_size");
    let (nh, nkv, hd) = (
        hp(m, "num_attention_heads"),
        hp(m, "num_key_value_heads"),
        hp(m, "head_dim"),
    );
    let (i, ie, e) = (
        hp(m, "intermediate_size"),
        hp(m, "moe_intermediate_size"),
        hp(m, "num_experts"),
    );
    let is = ie * hp(m, "num_shared_experts");
    let mut t = BTreeMap::new();
    t.insert("token_embd.weight".to_string(), vec![h, v]);
    t.insert("output_norm.weight".to_string(), vec![h]);
    t.insert("output.weight".to_string(), vec![h, v]);
    for n in 0..hp(m, "num_hidden_layers") {
        let mut add = |name: &str, dims: Vec<u64>| t.insert(format!("blk.{n}.{name}"), dims);
        add("attn_norm.weight", vec![h]);
        add("attn_qkv.weight", vec![h, (nh + 2 * nkv) * hd]);
        add("attn_q_norm.weight", vec![hd]);
        add("attn_k_norm.weight", vec![hd]);
        add("attn_output.weight", vec![nh * hd, h]);
        add("ffn_norm.weight", vec![h]);
        if n < hp(m, "first_k_dense_replace") {
            add("ffn_gate.weight", vec![h, i]);
            add("ffn_up.weight", vec![h, i]);
            add("ffn_down.weight", vec![i, h]);
        } else {
            add("ffn_gate_inp.weight", vec![h, e]);
            add("exp_probs_b.bias", vec![e]);
            add("ffn_gate_exps.weight", vec![h, ie, e]);
            add("ffn_up_exps.weight", vec![h, ie, e]);
            add("ffn_down_exps.weight", vec![ie, h, e]);
            add("ffn_gate_shexp.weight", vec![h, is]);
            add("ffn_up_shexp.weight", vec![h, is]);
            add("ffn_down_shexp.weight", vec![is, h]);
        }
    }
    t
}

fn check_metadata(g: &GgufFile, m: &Value) {
    let name = g.path().display().to_string();
    let u = |key: &str| {
        let v = g.get(key).unwrap_or_else(|| panic!("{name}: no key {key}"));
        v.as_u64()
            .unwrap_or_else(|| panic!("{name}: {key} is a {}", v.type_name()))
    };
    let f = |key: &str| {
        g.get(key)
            .and_then(|v| v.as_f32())
            .unwrap_or_else(|| panic!("{name}: no float {key}"))
    };
    let a = "bailingmoe2";
    assert_eq!(
        g.get("general.architecture").and_then(|v| v.as_str()),
        Some(a),
        "{name}"
    );
    for (key, hparam) in [
        ("block_count", "num_hidden_layers"),
        ("context_length", "max_position_embeddings"),
        ("embedding_length", "hidden_size"),
        ("feed_forward_length", "intermediate_size"),
        ("attention.head_count", "num_attention_heads"),
        ("attention.head_count_kv", "num_key_value_heads"),
        ("attention.key_length", "head_dim"),
        ("attention.value_length", "head_dim"),
        ("leading_dense_block_count", "first_k_dense_replace"),
        ("expert_count", "num_experts"),
        ("expert_used_count", "num_experts_per_tok"),
        ("expert_shared_count", "num_shared_experts"),
        ("expert_feed_forward_length", "moe_intermediate_size"),
        ("expert_group_count", "n_group"),
        ("expert_group_used_count", "topk_group"),
        ("nextn_predict_layers", "num_nextn_predict_layers"),
    ] {
        assert_eq!(
            u(&format!("{a}.{key}")),
            hp(m, hparam),
            "{name}: {a}.{key} vs hparams.{hparam}"
        );
    }
    let rot = (hp(m, "head_dim") as f64 * hp_f(m, "partial_rotary_factor")) as u64;
    assert_eq!(u(&format!("{a}.rope.dimension_count")), rot, "{name}");
    assert_eq!(
        u(&format!("{a}.vocab_size")),
        m["vocab_size"].as_u64().unwrap(),
        "{name}"
    );
    assert_eq!(
        f(&format!("{a}.rope.freq_base")),
        hp_f(m, "rope_theta") as f32,
        "{name}"
    );
    assert_eq!(
        f(&format!("{a}.attention.layer_norm_rms_epsilon")),
        hp_f(m, "rms_norm_eps") as f32,
        "{name}"
    );
    assert_eq!(
        f(&format!("{a}.expert_weights_scale")),
        hp_f(m, "routed_scaling_factor") as f32,
        "{name}"
    );
    let tokens = g
        .get("tokenizer.ggml.tokens")
        .and_then(|v| v.as_array())
        .expect("tokenizer.ggml.tokens");
    assert_eq!(
        tokens.len() as u64,
        m["vocab_size"].as_u64().unwrap(),
        "{name}: token count"
    );
    assert!(
        tokens.iter().all(|t| t.as_str().is_some()),
        "{name}: every token is a string"
    );
    assert!(g
        .get("tokenizer.chat_template")
        .and_then(|v| v.as_str())
        .is_some_and(|s| s.contains("<role>")));
}

fn check_tensors(g: &GgufFile, m: &Value, variant: &Value) {
    let name = g.path().display().to_string();
    let expected = expected_tensors(m);
    let found: BTreeMap<String, Vec<u64>> = g.tensors().iter().map(|t| (t.name.clone(), t.dims.clone())).collect();
    assert_eq!(found.len(), g.tensors().len(), "{name}: duplicate names");
    assert_eq!(found, expected, "{name}: tensor names and dims");

    let types: BTreeSet<String> = g.tensors().iter().map(|t| t.dtype.ggml_name()).collect();
    let want: BTreeSet<String> = variant["tensor_types"]
        .as_array()
        .expect("tensor_types")
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    assert_eq!(types, want, "{name}: tensor types");

    // Router weights and the expert bias stay F32 in every variant (reference README).
    for t in g
        .tensors()
        .iter()
        .filter(|t| t.name.contains("ffn_gate_inp") || t.name.contains("exp_probs_b"))
    {
        assert_eq!(t.dtype, DType::F32, "{name}: {}", t.name);
    }
    // Data lies after the header, aligned, without overlaps, inside the file.
    let mut spans: Vec<(u64, u64)> = g.tensors().iter().map(|t| (t.offset, t.offset + t.size)).collect();
    spans.sort();
    assert!(
        spans.windows(2).all(|w| w[0].1 <= w[1].0),
        "{name}: overlapping tensors"
    );
    for t in g.tensors() {
        assert!(
            t.offset >= g.data_offset() && (t.offset - g.data_offset()).is_multiple_of(g.alignment()),
            "{name}: {}",
            t.name
        );
        let rev: Vec<usize> = t.dims.iter().rev().map(|&d| d as usize).collect();
        assert_eq!(t.shape, rev, "{name}: {}", t.name);
        let elems: u64 = t.dims.iter().product();
        assert_eq!(
            t.size,
            elems / t.dtype.block_elems() as u64 * t.dtype.block_bytes() as u64,
            "{name}: {}",
            t.name
        );
        let w = g.weight(&t.name).expect("weight by name");
        assert_eq!(
            (w.dtype, w.shape, w.bytes.len() as u64),
            (t.dtype, &t.shape[..], t.size)
        );
    }
    assert!(g.weight("no.such.tensor").is_none());
}

#[test]
fn every_reference_gguf_matches_its_manifest() {
    let mut opened = 0;
    for model in ["tiny", "small", "austen"] {
        let m = manifest(model);
        for variant in m["variants"].as_array().expect("variants") {
            let path = reference_dir()
                .join(model)
                .join(variant["file"].as_str().expect("file"));
            let g = GgufFile::open(&path).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(g.len(), variant["bytes"].as_u64().unwrap(), "{}: size", path.display());
            assert_eq!((g.version(), g.alignment()), (3, 32), "{}", path.display());
            check_metadata(&g, &m);
            check_tensors(&g, &m, variant);
            opened += 1;
        }
    }
    assert_eq!(opened, 5 + 7 + 2, "the manifests list 14 GGUF files");
}

/// Decodes the first `n` elements of a tensor by the block layouts in ir/src/dtype.rs, written
/// out here independently of any backend.
fn decode(dtype: DType, bytes: &[u8], n: usize) -> Vec<f32> {
    let h = |b: &[u8]| f16::from_le_bytes([b[0], b[1]]).to_f32();
    match dtype {
        DType::F16 => bytes.chunks_exact(2).take(n).map(h).collect(),
        DType::BF16 => bytes
            .chunks_exact(2)
            .take(n)
            .map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect(),
        DType::Q8_0 => bytes
            .chunks_exact(34)
            .flat_map(|b| b[2..].iter().map(move |&q| h(b) * (q as i8) as f32))
            .take(n)
            .collect(),
        DType::Q4_0 => bytes
            .chunks_exact(18)
            .flat_map(|b| {
                let lo = b[2..].iter().map(|&q| (q & 15) as i32 - 8);
                let hi = b[2..].iter().map(|&q| (q >> 4) as i32 - 8);
                lo.chain(hi).map(move |q| h(b) * q as f32)
            })
            .take(n)
            .collect(),
        other => panic!("no hand decoder for {other}"),
    }
}

#[test]
fn sampled_rows_match_gguf_py_bit_for_bit() {
    let mut checked = 0;
    for model in ["tiny", "small", "austen"] {
        let m = manifest(model);
        for variant in m["variants"].as_array().expect("variants") {
            let path = reference_dir().join(model).join(variant["file"].as_str().unwrap());
            let g = GgufFile::open(&path).unwrap_or_else(|e| panic!("{e}"));
            for s in variant["dequant_samples"].as_array().expect("dequant_samples") {
                let t = g
                    .tensor(s["tensor"].as_str().unwrap())
                    .expect("sampled tensor is in the file");
                assert_eq!(
                    t.dtype.ggml_name(),
                    s["type"].as_str().unwrap(),
                    "{}: {}",
                    path.display(),
                    t.name
                );
                if !matches!(t.dtype, DType::F16 | DType::BF16 | DType::Q8_0 | DType::Q4_0) {
                    continue; // k-quants and Q5_0 are the CPU backend's to decode
                }
                let (shape, want) = npy::read_f32(&reference_dir().join(model).join(s["file"].as_str().unwrap()))
                    .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(
                    shape,
                    [s["rows"].as_u64().unwrap() as usize, t.shape[t.shape.len() - 1]]
                );
                let got = decode(t.dtype, g.tensor_data(t), want.len());
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "{}: {}", path.display(), t.name);
                checked += 1;
            }
        }
    }
    // tiny: 5 (F16, BF16, Q8_0, Q4_0 and Q4_0's Q8_0 output); small: Q8_0, Q4_0; austen: Q8_0 and
    // the Q8_0 tensor inside Q4_K_M.
    assert_eq!(checked, 9, "samples decoded by hand");
}
