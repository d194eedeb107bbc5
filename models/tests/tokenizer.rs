//! The tokenizer built from GGUF metadata against the ids Hugging Face `tokenizers` gives
//! (`shared/reference/tokenizer-cases.json`), plus decoding, streaming and the errors on bad metadata.

mod common;

use common::reference_dir;

use lingot_models::gguf::GgufFile;
use lingot_models::tokenizer::{StreamDecoder, TokenType, Tokenizer, VocabMetadata};

fn tiny_gguf() -> GgufFile {
    let path = reference_dir().join("tiny/tiny-F32.gguf");
    GgufFile::open(&path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()))
}

fn tiny_tokenizer() -> Tokenizer {
    Tokenizer::from_gguf(&tiny_gguf()).unwrap_or_else(|e| panic!("building the tokenizer: {e}"))
}

struct Case {
    text: String,
    ids: Vec<u32>,
}

fn cases() -> Vec<Case> {
    let path = reference_dir().join("tokenizer-cases.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: serde_json::Value = serde_json::from_str(&text).expect("tokenizer-cases.json is JSON");
    let cases: Vec<Case> = json
        .as_array()
        .expect("tokenizer-cases.json is an array")
        .iter()
        .map(|case| Case {
            text: case["text"].as_str().expect("case.text").to_string(),
            ids: case["ids"]
                .as_array()
                .expect("case.ids")
                .iter()
                .map(|id| id.as_u64().expect("id") as u32)
                .collect(),
        })
        .collect();
    assert!(cases.len() >= 10, "expected the full case list, got {}", cases.len());
    cases
}

#[test]
fn encodes_every_reference_case_like_hf() {
    let tokenizer = tiny_tokenizer();
    let mut failures = Vec::new();
    for case in cases() {
        let ids = tokenizer.encode(&case.text, true).expect("encode");
        if ids != case.ids {
            failures.push(format!("{:?}\n  want {:?}\n  got  {:?}", case.text, case.ids, ids));
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn decoding_gives_back_the_text() {
    let tokenizer = tiny_tokenizer();
    for case in cases() {
        assert_eq!(tokenizer.decode(&case.ids).expect("decode"), case.text);
    }
}

#[test]
fn streaming_one_token_at_a_time_gives_back_the_text() {
    let tokenizer = tiny_tokenizer();
    let mut split_characters = 0;
    for case in cases() {
        let mut stream = StreamDecoder::new();
        let mut text = String::new();
        for &id in &case.ids {
            let piece = tokenizer.token_to_piece(id).expect("piece");
            if std::str::from_utf8(piece).is_err() {
                split_characters += 1;
            }
            text += &stream.push(&tokenizer, id).expect("push");
        }
        text += &stream.finish();
        assert_eq!(text, case.text);
    }
    // The non-Latin cases must have exercised the buffering.
    assert!(split_characters > 0, "no token held part of a UTF-8 character");
}

#[test]
fn stream_decoder_holds_unfinished_characters_and_replaces_bad_bytes() {
    let mut stream = StreamDecoder::new();
    let smile = "🙂".as_bytes();
    assert_eq!(stream.push_bytes(&[b'a', smile[0]]), "a");
    assert_eq!(stream.push_bytes(&smile[1..3]), "");
    assert_eq!(stream.push_bytes(&[smile[3], b'b']), "🙂b");
    assert_eq!(stream.push_bytes(&[0xFF, b'c']), "\u{FFFD}c");
    assert_eq!(stream.push_bytes(&smile[..2]), "");
    assert_eq!(stream.finish(), "\u{FFFD}");
    assert_eq!(stream.push_bytes(b"d"), "d");
}

#[test]
fn special_tokens_are_plain_text_without_parse_special() {
    let tokenizer = tiny_tokenizer();
    let text = "<role>HUMAN</role>Hi<|role_end|>";
    let parsed = tokenizer.encode(text, true).expect("encode");
    let plain = tokenizer.encode(text, false).expect("encode");
    assert!(parsed.iter().any(|&id| tokenizer.is_control(id)));
    assert!(
        plain.iter().all(|&id| !tokenizer.is_control(id)),
        "control tokens in {plain:?}"
    );
    assert!(plain.len() > parsed.len());
    assert_eq!(tokenizer.decode(&plain).expect("decode"), text);
    // Parsing again afterwards still matches them: the two modes do not share state.
    assert_eq!(tokenizer.encode(text, true).expect("encode"), parsed);
}

#[test]
fn special_ids_and_flags_come_from_the_gguf() {
    // Expected values: shared/BAILING_MOE2.md (BOS 1011, EOT/PAD 1012, EOS 1015) and tokenizer_config.json.
    let tokenizer = tiny_tokenizer();
    assert_eq!(tokenizer.vocab_size(), 1024);
    assert_eq!(tokenizer.bos(), Some(1011));
    assert_eq!(tokenizer.eos(), Some(1015));
    assert_eq!(tokenizer.eot(), Some(1012));
    assert_eq!(tokenizer.pad(), Some(1012));
    assert!(!tokenizer.add_bos());
    assert!(!tokenizer.add_eos());
    assert_eq!(tokenizer.token_text(1015), Some("<|role_end|>"));
    assert_eq!(tokenizer.token_type(1015), Some(TokenType::Control));
    assert!(tokenizer.is_end_of_generation(1015));
    assert!(tokenizer.is_end_of_generation(1012));
    assert!(!tokenizer.is_end_of_generation(1011));
    assert!(!tokenizer.is_end_of_generation(39));
}

#[test]
fn token_pieces_are_bytes_not_byte_mapped_text() {
    let tokenizer = tiny_tokenizer();
    let id = tokenizer.encode(" the", true).expect("encode");
    assert_eq!(id.len(), 1, "\" the\" should be one token of this vocabulary");
    assert!(tokenizer.token_text(id[0]).expect("text").starts_with('Ġ'));
    assert_eq!(tokenizer.token_to_piece(id[0]).expect("piece"), b" the");
}

#[test]
fn unknown_ids_are_errors() {
    let tokenizer = tiny_tokenizer();
    let err = tokenizer
        .decode(&[39, 5000])
        .expect_err("id 5000 is not in the vocabulary");
    assert!(err.to_string().contains("5000"), "{err}");
    assert!(tokenizer.token_to_piece(1024).is_err());
}

fn small_metadata() -> VocabMetadata {
    VocabMetadata {
        model: "gpt2".into(),
        pre: "bailingmoe2".into(),
        tokens: vec!["a".into(), "b".into(), "ab".into()],
        types: vec![TokenType::Normal; 3],
        merges: vec!["a b".into()],
        ..VocabMetadata::default()
    }
}

#[test]
fn hand_made_metadata_builds_and_merges() {
    let tokenizer = Tokenizer::from_metadata(small_metadata()).expect("build");
    assert_eq!(tokenizer.encode("abba", true).expect("encode"), vec![2, 1, 0]);
}

#[test]
fn unsupported_model_and_pre_tokenizer_are_named() {
    let mut meta = small_metadata();
    meta.model = "llama".into();
    let err = Tokenizer::from_metadata(meta).err().expect("llama is not gpt2");
    let message = err.to_string();
    assert!(
        message.contains("tokenizer.ggml.model") && message.contains("\"llama\""),
        "{message}"
    );

    let mut meta = small_metadata();
    meta.pre = "qwen2".into();
    let err = Tokenizer::from_metadata(meta).err().expect("qwen2 is not supported");
    let message = err.to_string();
    assert!(
        message.contains("tokenizer.ggml.pre") && message.contains("\"qwen2\""),
        "{message}"
    );
}

#[test]
fn inconsistent_metadata_is_rejected() {
    let mut meta = small_metadata();
    meta.types.pop();
    let message = Tokenizer::from_metadata(meta).err().expect("short types").to_string();
    assert!(message.contains("tokenizer.ggml.token_type"), "{message}");

    let mut meta = small_metadata();
    meta.eos = Some(3);
    let message = Tokenizer::from_metadata(meta)
        .err()
        .expect("eos out of range")
        .to_string();
    assert!(message.contains("tokenizer.ggml.eos_token_id"), "{message}");

    let mut meta = small_metadata();
    meta.merges = vec!["ab".into()];
    let message = Tokenizer::from_metadata(meta).err().expect("bad merge").to_string();
    assert!(message.contains("tokenizer.ggml.merges[0]"), "{message}");

    let mut meta = small_metadata();
    meta.merges = vec!["b b".into()];
    assert!(
        Tokenizer::from_metadata(meta).is_err(),
        "merge into a token not in the vocabulary"
    );
}
