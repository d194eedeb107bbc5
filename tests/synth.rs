//! `lingot synth`: the dry-run tensor list and counts against the released models' table
//! (computed here, independently of the code under test), a tiny file that loads, tokenizes and
//! runs to finite logits with varied routing, the spread of the random blocks of every dtype,
//! atomic writes and clear errors.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use common::*;
use lingot_ir::DType;
use lingot_models::bailing_moe2::HParams;
use lingot_models::chat::{ChatRequest, ChatTemplate};
use lingot_models::gguf::{GgufFile, MetaValue};
use lingot_models::synth::{random_rows, Init, LING_CHAT_TEMPLATE};
use lingot_models::tokenizer::Tokenizer;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lingot-synth-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A row of BAILING_MOE2.md's "Released models" table.
struct Table {
    layers: u64,
    dense: u64,
    h: u64,
    ffn: u64,
    heads: u64,
    kv: u64,
    hd: u64,
    experts: u64,
    expert_ffn: u64,
}

const VOCAB: u64 = 157184;
const MINI: Table = Table {
    layers: 20,
    dense: 1,
    h: 2048,
    ffn: 5120,
    heads: 16,
    kv: 4,
    hd: 128,
    experts: 256,
    expert_ffn: 512,
};
const FLASH: Table = Table {
    layers: 32,
    dense: 1,
    h: 4096,
    ffn: 9216,
    heads: 32,
    kv: 4,
    hd: 128,
    experts: 256,
    expert_ffn: 1024,
};
const ONE_T: Table = Table {
    layers: 80,
    dense: 4,
    h: 8192,
    ffn: 18432,
    heads: 64,
    kv: 8,
    hd: 128,
    experts: 256,
    expert_ffn: 2048,
};

/// Every tensor of the model with its ggml dims, from BAILING_MOE2.md's GGUF section.
fn expected_tensors(t: &Table) -> BTreeMap<String, Vec<u64>> {
    let mut m = BTreeMap::new();
    m.insert("token_embd.weight".to_string(), vec![t.h, VOCAB]);
    m.insert("output_norm.weight".to_string(), vec![t.h]);
    m.insert("output.weight".to_string(), vec![t.h, VOCAB]);
    for n in 0..t.layers {
        let mut add = |name: &str, dims: Vec<u64>| m.insert(format!("blk.{n}.{name}"), dims);
        add("attn_norm.weight", vec![t.h]);
        add("attn_qkv.weight", vec![t.h, (t.heads + 2 * t.kv) * t.hd]);
        add("attn_q_norm.weight", vec![t.hd]);
        add("attn_k_norm.weight", vec![t.hd]);
        add("attn_output.weight", vec![t.heads * t.hd, t.h]);
        add("ffn_norm.weight", vec![t.h]);
        if n < t.dense {
            add("ffn_gate.weight", vec![t.h, t.ffn]);
            add("ffn_up.weight", vec![t.h, t.ffn]);
            add("ffn_down.weight", vec![t.ffn, t.h]);
        } else {
            add("ffn_gate_inp.weight", vec![t.h, t.experts]);
            add("exp_probs_b.bias", vec![t.experts]);
            add("ffn_gate_exps.weight", vec![t.h, t.expert_ffn, t.experts]);
            add("ffn_up_exps.weight", vec![t.h, t.expert_ffn, t.experts]);
            add("ffn_down_exps.weight", vec![t.expert_ffn, t.h, t.experts]);
            add("ffn_gate_shexp.weight", vec![t.h, t.expert_ffn]);
            add("ffn_up_shexp.weight", vec![t.h, t.expert_ffn]);
            add("ffn_down_shexp.weight", vec![t.expert_ffn, t.h]);
        }
    }
    m
}

/// Tensor name -> (type, ggml dims).
type Listing = BTreeMap<String, (String, Vec<u64>)>;

/// The dry-run listing and the trailing count lines.
fn dry_run(preset: &str, ftype: &str, extra: &[&str]) -> (Listing, Vec<String>) {
    let mut args = vec!["synth", "--preset", preset, "--type", ftype, "--dry-run"];
    args.extend_from_slice(extra);
    let out = lingot_ok(&args, None);
    let mut tensors = BTreeMap::new();
    let mut tail = vec![];
    for line in out.lines() {
        let Some((head, dims)) = line.split_once('{') else {
            tail.push(line.to_string());
            continue;
        };
        let mut words = head.split_whitespace();
        let (name, ty) = (words.next().expect("name"), words.next().expect("type"));
        let dims: Vec<u64> = dims
            .trim_end_matches('}')
            .split(", ")
            .map(|d| d.parse().unwrap_or_else(|_| panic!("dims of {line}")))
            .collect();
        tensors.insert(name.to_string(), (ty.to_string(), dims));
    }
    (tensors, tail)
}

fn check_dry_run(preset: &str, table: &Table, n_tensors: usize, billions: &str) {
    let (tensors, tail) = dry_run(preset, "Q4_K_M", &[]);
    let want = expected_tensors(table);
    assert_eq!(tensors.len(), n_tensors, "{preset}: tensor count");
    let got_shapes: BTreeMap<String, Vec<u64>> = tensors.iter().map(|(k, (_, d))| (k.clone(), d.clone())).collect();
    assert_eq!(got_shapes, want, "{preset}: tensor names and shapes");
    let n_params: u64 = want.values().map(|d| d.iter().product::<u64>()).sum();
    assert!(tail.contains(&format!("{n_tensors} tensors")), "{preset}: {tail:?}");
    assert!(
        tail.contains(&format!("{billions} parameters ({n_params})")),
        "{preset}: {tail:?}"
    );
    assert_eq!(tensors["output.weight"].0, "Q6_K");
    let last = table.layers - 1;
    assert_eq!(tensors[&format!("blk.{last}.ffn_gate_inp.weight")].0, "F32");
    assert_eq!(tensors[&format!("blk.{last}.exp_probs_b.bias")].0, "F32");
    assert_eq!(tensors[&format!("blk.{last}.ffn_up_exps.weight")].0, "Q4_K");
}

#[test]
fn dry_run_of_ling_mini_lists_278_tensors_and_16_26b_parameters() {
    check_dry_run("ling-mini-2.0", &MINI, 278, "16.26B");
}

#[test]
fn dry_run_of_ling_flash_and_ling_1t_match_the_table() {
    check_dry_run("ling-flash-2.0", &FLASH, 3 + 9 + 31 * 14, "102.89B");
    check_dry_run("ling-1t", &ONE_T, 3 + 4 * 9 + 76 * 14, "999.71B");
}

#[test]
fn layers_cut_keeps_the_dense_block_and_the_q4_k_m_mix() {
    let (tensors, tail) = dry_run("ling-mini-2.0", "Q4_K_M", &["--layers", "4"]);
    assert_eq!(tensors.len(), 3 + 9 + 3 * 14);
    assert!(tensors.contains_key("blk.0.ffn_down.weight") && tensors.contains_key("blk.3.ffn_down_exps.weight"));
    assert!(!tensors.contains_key("blk.4.attn_norm.weight"));
    assert!(tail.iter().any(|l| l == "54 tensors"), "{tail:?}");
    // llama-quantize's use_more_bits over 4 layers: layers 0 (i < n/8 is false), 2 ((i - 0) % 3 == 2)
    // and 3 (i >= 7n/8) get Q6_K ffn_down; attn_output is Q5_K in a model of 4 experts or more.
    let ty = |n: &str| tensors[n].0.as_str();
    assert_eq!(ty("blk.0.ffn_down.weight"), "Q4_K");
    assert_eq!(ty("blk.1.ffn_down_exps.weight"), "Q4_K");
    assert_eq!(ty("blk.2.ffn_down_exps.weight"), "Q6_K");
    assert_eq!(ty("blk.3.ffn_down_shexp.weight"), "Q6_K");
    assert_eq!(ty("blk.1.attn_output.weight"), "Q5_K");
    assert_eq!(ty("token_embd.weight"), "Q4_K");
}

fn synth_tiny(ftype: &str, name: &str, seed: &str) -> PathBuf {
    let path = tmp(name);
    let p = path.to_str().expect("utf-8 temp path");
    lingot_ok(
        &["synth", "--preset", "tiny", "--type", ftype, "-o", p, "--seed", seed],
        None,
    );
    path
}

#[test]
fn tiny_opens_tokenizes_and_runs_to_finite_logits_with_varied_routing() {
    for ftype in ["F32", "Q8_0", "Q4_K_M"] {
        let path = synth_tiny(ftype, &format!("tiny-{ftype}.gguf"), "7");
        let f = GgufFile::open(&path).expect("the synth file opens");
        let hp = HParams::from_gguf(&f).expect("hparams");
        assert_eq!(
            (
                hp.block_count,
                hp.leading_dense_block_count,
                hp.embedding_length,
                hp.head_count,
                hp.head_count_kv
            ),
            (3, 1, 64, 4, 2)
        );
        assert_eq!(
            (
                hp.expert_count,
                hp.expert_used_count,
                hp.expert_group_count,
                hp.expert_group_used_count
            ),
            (16, 4, 4, 2)
        );
        assert_eq!((hp.vocab_size, hp.key_length, hp.rope_dimension_count), (1024, 16, 8));
        assert_eq!(f.tensor("blk.1.ffn_gate_inp.weight").map(|t| t.dtype), Some(DType::F32));

        let tok = Tokenizer::from_gguf(&f).expect("tokenizer");
        let text = "It is a truth universally acknowledged, 42 times.";
        let ids = tok.encode(text, true).expect("encode");
        assert!(ids.len() < text.len(), "merges shorten the text: {ids:?}");
        assert_eq!(tok.decode(&ids).expect("decode"), text);
        assert_eq!(tok.encode("<role>HUMAN</role>", true).expect("encode")[0], 1016);
        assert_eq!((tok.bos(), tok.eos(), tok.pad()), (Some(1011), Some(1015), Some(1012)));

        let ids: Vec<String> = ids.iter().map(u32::to_string).collect();
        let (npy, routing) = (
            tmp(&format!("tiny-{ftype}.npy")),
            tmp(&format!("tiny-{ftype}-routing.json")),
        );
        lingot_ok(
            &[
                "logits",
                "-m",
                path.to_str().unwrap(),
                "--backend",
                "cpu",
                "--tokens",
                &ids.join(" "),
                "--out",
                npy.to_str().unwrap(),
                "--routing-out",
                routing.to_str().unwrap(),
            ],
            None,
        );
        let (shape, logits) = lingot_models::npy::read_f32(&npy).expect("logits");
        assert_eq!(shape, vec![ids.len(), 1024]);
        assert!(logits.iter().all(|x| x.is_finite()), "{ftype}: logits are finite");
        let spread = logits.iter().fold(f32::MIN, |a, &b| a.max(b)) - logits.iter().fold(f32::MAX, |a, &b| a.min(b));
        assert!(spread > 0.1, "{ftype}: logits vary (spread {spread})");
        let routes: Vec<Vec<Vec<i32>>> = serde_json::from_str(&std::fs::read_to_string(&routing).unwrap()).unwrap();
        assert_eq!(routes.len(), 2, "two MoE layers");
        for (layer, per_token) in routes.iter().enumerate() {
            let used: BTreeSet<i32> = per_token.iter().flatten().copied().collect();
            let mut counts: BTreeMap<Vec<i32>, usize> = BTreeMap::new();
            for s in per_token {
                let mut set = s.clone();
                set.sort_unstable();
                *counts.entry(set).or_default() += 1;
            }
            assert!(
                used.len() >= 10,
                "{ftype} layer {layer}: only experts {used:?} are ever chosen"
            );
            let most = counts.values().max().copied().unwrap_or(0);
            assert!(
                most * 2 <= per_token.len(),
                "{ftype} layer {layer}: {most} of {} tokens choose the same experts",
                per_token.len()
            );
        }
    }
}

#[test]
fn the_chat_template_is_the_released_one() {
    let reference = GgufFile::open(&gguf_path("tiny", "F32")).expect("reference tiny");
    let want = reference
        .get("tokenizer.chat_template")
        .and_then(MetaValue::as_str)
        .expect("template");
    assert_eq!(LING_CHAT_TEMPLATE, want);
    let path = synth_tiny("Q4_0", "tiny-chat.gguf", "1");
    let f = GgufFile::open(&path).expect("open");
    let t = ChatTemplate::from_gguf(&f).expect("template");
    let messages = serde_json::json!([{"role": "user", "content": "Hi"}]);
    let text = t
        .render(&ChatRequest {
            messages: &messages,
            add_generation_prompt: true,
            bos_token: "<|startoftext|>",
            eos_token: "<|role_end|>",
            tools: None,
        })
        .expect("render");
    assert_eq!(
        text,
        "<role>SYSTEM</role>detailed thinking off<|role_end|><role>HUMAN</role>Hi<|role_end|><role>ASSISTANT</role>"
    );
}

#[test]
fn ling_vocabulary_has_the_released_special_ids() {
    // The tensors of even one layer take 500 MB: write the metadata alone and load it.
    let plan = lingot_models::synth::Plan::new(
        lingot_models::synth::Preset::LingMini2,
        lingot_models::synth::FileType::Q8_0,
        Some(1),
    )
    .unwrap();
    let meta: BTreeMap<String, MetaValue> = plan.metadata().expect("metadata").into_iter().collect();
    let tokens = meta["tokenizer.ggml.tokens"].as_array().expect("tokens");
    assert_eq!(tokens.len(), 157184);
    let text = |id: usize| tokens[id].as_str().expect("string");
    assert_eq!(
        (text(156891), text(156892), text(156895)),
        ("<|startoftext|>", "<|endoftext|>", "<|role_end|>")
    );
    assert_eq!(meta["tokenizer.ggml.bos_token_id"].as_u64(), Some(156891));
    assert_eq!(meta["tokenizer.ggml.eos_token_id"].as_u64(), Some(156895));
    assert_eq!(meta["tokenizer.ggml.padding_token_id"].as_u64(), Some(156892));
    let path = tmp("ling-vocab.gguf");
    let mut w = lingot_models::gguf::GgufWriter::new(&path);
    for (k, v) in meta {
        w.add_metadata(&k, v).expect("metadata");
    }
    w.write(|_, _| Ok(())).expect("write");
    let tok = Tokenizer::from_gguf(&GgufFile::open(&path).expect("open")).expect("the 157k vocabulary loads");
    let ids = tok
        .encode("<role>HUMAN</role>Hello there<|role_end|>", true)
        .expect("encode");
    assert_eq!((ids[0], *ids.last().unwrap()), (156896, 156895));
    assert_eq!(tok.decode(&ids).unwrap(), "<role>HUMAN</role>Hello there<|role_end|>");
}

#[test]
fn random_blocks_have_the_asked_spread_in_every_dtype() {
    let sigma = 0.02f32;
    let types = [
        DType::F32,
        DType::F16,
        DType::BF16,
        DType::Q8_0,
        DType::Q4_0,
        DType::Q4_1,
        DType::Q5_0,
        DType::Q5_1,
    ];
    let k_types = [DType::Q2K, DType::Q3K, DType::Q4K, DType::Q5K, DType::Q6K];
    for dtype in types.into_iter().chain(k_types) {
        let (row_len, rows) = (1024u64, 64usize);
        let bytes = random_rows(dtype, Init::Normal(sigma), row_len, rows, 3).expect("whole blocks");
        let rb = bytes.len() / rows;
        let mut x = vec![0f32; row_len as usize * rows];
        for (r, out) in x.chunks_mut(row_len as usize).enumerate() {
            lingot_cpu::quant::dequantize_row(dtype, &bytes[r * rb..(r + 1) * rb], out).expect("dequantize");
        }
        let n = x.len() as f32;
        let mean = x.iter().sum::<f32>() / n;
        let sd = (x.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
        assert!(x.iter().all(|v| v.is_finite()), "{dtype}");
        assert!(
            (sd / sigma - 1.0).abs() < 0.2,
            "{dtype}: standard deviation {sd}, asked {sigma}"
        );
        assert!(mean.abs() < 0.15 * sigma, "{dtype}: mean {mean}");
    }
    let norms = random_rows(DType::F32, Init::NearOne(0.1), 64, 1, 1).unwrap();
    let v: Vec<f32> = norms
        .chunks(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert!(v.iter().all(|x| (0.9..=1.1).contains(x)), "{v:?}");
}

#[test]
fn the_same_seed_writes_the_same_file() {
    let a = std::fs::read(synth_tiny("Q4_0", "seed-a.gguf", "5")).unwrap();
    let b = std::fs::read(synth_tiny("Q4_0", "seed-b.gguf", "5")).unwrap();
    let c = std::fs::read(synth_tiny("Q4_0", "seed-c.gguf", "6")).unwrap();
    assert!(a == b, "seed 5 twice gives two different files");
    assert!(a.len() == c.len() && a != c, "seeds 5 and 6 give the same weights");
}

#[test]
fn a_failed_write_leaves_no_file() {
    // The output path is a directory: the data goes to OUT.tmp, and the final rename fails.
    let dir = tmp("is-a-directory.gguf");
    std::fs::create_dir_all(&dir).unwrap();
    let o = lingot(
        &[
            "synth",
            "--preset",
            "tiny",
            "--type",
            "Q8_0",
            "-o",
            dir.to_str().unwrap(),
        ],
        None,
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("is-a-directory.gguf"), "{}", stderr(&o));
    assert!(
        !tmp("is-a-directory.gguf.tmp").exists(),
        "the .tmp file was left behind"
    );
    assert!(dir.is_dir());
    let missing = tmp("no/such/dir/x.gguf");
    let o = lingot(
        &[
            "synth",
            "--preset",
            "tiny",
            "--type",
            "Q8_0",
            "-o",
            missing.to_str().unwrap(),
        ],
        None,
    );
    assert!(!o.status.success() && !missing.exists());
}

#[test]
fn bad_flags_are_clear_errors() {
    let cases: [(&[&str], &str); 6] = [
        (
            &["--preset", "ling-2t", "--type", "Q8_0", "--dry-run"],
            "ling-mini-2.0, ling-flash-2.0, ling-1t, tiny",
        ),
        (&["--preset", "tiny", "--type", "Q3_K_XL", "--dry-run"], "Q4_K_M"),
        (
            &[
                "--preset",
                "ling-mini-2.0",
                "--type",
                "Q8_0",
                "--layers",
                "0",
                "--dry-run",
            ],
            "choose 1..=20",
        ),
        (
            &[
                "--preset",
                "ling-mini-2.0",
                "--type",
                "Q8_0",
                "--layers",
                "21",
                "--dry-run",
            ],
            "has 20 layers",
        ),
        (&["--preset", "tiny", "--type", "Q8_0"], "-o FILE is required"),
        (
            &["--preset", "tiny", "--type", "Q8_0", "--layers", "x", "--dry-run"],
            "--layers",
        ),
    ];
    for (args, want) in cases {
        let mut all = vec!["synth"];
        all.extend_from_slice(args);
        let o = lingot(&all, None);
        assert!(!o.status.success(), "{all:?} succeeded");
        let err = stderr(&o);
        assert!(err.contains(want), "{all:?}: {err}");
        assert!(!err.contains("panicked"), "{all:?}: {err}");
    }
}
