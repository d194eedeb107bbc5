//! The GGUF's chat template rendered like transformers' `apply_chat_template`
//! (`shared/reference/chat-template-cases.json`: same text, and the same ids once tokenized), plus the
//! Python-compatible helpers templates rely on and the errors on malformed conversations.

mod common;

use common::reference_dir;

use std::path::PathBuf;

use lingot_models::chat::{render_chat, ChatError, ChatRequest, ChatTemplate};
use lingot_models::gguf::GgufFile;
use lingot_models::tokenizer::Tokenizer;
use serde_json::json;

fn tiny_gguf() -> GgufFile {
    let path = reference_dir().join("tiny/tiny-F32.gguf");
    GgufFile::open(&path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()))
}

fn read_json(path: PathBuf) -> serde_json::Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn renders_every_reference_case_like_transformers() {
    let gguf = tiny_gguf();
    let tokenizer = Tokenizer::from_gguf(&gguf).expect("tokenizer");
    let template = ChatTemplate::from_gguf(&gguf).expect("template");
    let bos = tokenizer.bos().and_then(|id| tokenizer.token_text(id)).expect("bos");
    let eos = tokenizer.eos().and_then(|id| tokenizer.token_text(id)).expect("eos");
    let cases = read_json(reference_dir().join("chat-template-cases.json"));
    let cases = cases.as_array().expect("an array of cases");
    assert!(!cases.is_empty(), "no chat template cases");
    for case in cases {
        let request = ChatRequest {
            messages: &case["messages"],
            add_generation_prompt: case["add_generation_prompt"].as_bool().expect("flag"),
            bos_token: bos,
            eos_token: eos,
            tools: None,
        };
        let text = template.render(&request).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(text, case["text"].as_str().expect("case.text"));
        let want: Vec<u32> = case["ids"]
            .as_array()
            .expect("case.ids")
            .iter()
            .map(|id| id.as_u64().expect("id") as u32)
            .collect();
        assert_eq!(tokenizer.encode(&text, true).expect("encode"), want, "ids of {text:?}");
    }
}

#[test]
fn the_gguf_template_is_the_hf_one() {
    let config = read_json(reference_dir().join("tiny/hf/tokenizer_config.json"));
    let hf_template = config["chat_template"].as_str().expect("chat_template");
    let gguf = tiny_gguf();
    let value = gguf.get("tokenizer.chat_template").expect("key");
    assert_eq!(value.as_str(), Some(hf_template));
}

#[test]
fn ling_template_lists_tools_as_python_json() {
    let template = ChatTemplate::from_gguf(&tiny_gguf()).expect("template");
    let messages = json!([{"role": "user", "content": "Weather?"}]);
    let tools = json!([{"name": "get_weather", "parameters": {"city": "string"}}]);
    let text = template
        .render(&ChatRequest {
            messages: &messages,
            add_generation_prompt: false,
            bos_token: "<|startoftext|>",
            eos_token: "<|role_end|>",
            tools: Some(&tools),
        })
        .expect("render");
    // What Python's json.dumps writes for the tool, as transformers' tojson does.
    let tool_line = "\n{\"name\": \"get_weather\", \"parameters\": {\"city\": \"string\"}}\n</tools>";
    assert!(text.starts_with("<role>SYSTEM</role># Tools\n"), "{text}");
    assert!(text.contains(tool_line), "{text}");
    assert!(text.ends_with("<role>HUMAN</role>Weather?<|role_end|>"), "{text}");
}

#[test]
fn assistant_thinking_is_kept_only_after_the_last_user_turn() {
    let template = ChatTemplate::from_gguf(&tiny_gguf()).expect("template");
    let messages = json!([
        {"role": "user", "content": "Q"},
        {"role": "assistant", "content": "<think>\nplan\n</think>\n\nA"},
    ]);
    let request = ChatRequest {
        messages: &messages,
        add_generation_prompt: false,
        bos_token: "",
        eos_token: "",
        tools: None,
    };
    let text = template.render(&request).expect("render");
    // Worked by hand from the template: strip('\n') on the reasoning, lstrip('\n') on the answer.
    assert!(
        text.ends_with("<role>ASSISTANT</role>\n<think>\nplan\n</think>\n\nA<|role_end|>"),
        "{text}"
    );
}

#[test]
fn a_template_given_as_text_overrides_the_models() {
    let template = "{{ bos_token }}{% for m in messages %}\n  {{ m.role | upper }}: {{ m.content.strip() }}\n{% endfor %}\n{% if add_generation_prompt %}ASSISTANT:{% endif %}";
    let messages = json!([{"role": "user", "content": "  Hi  "}]);
    let text = render_chat(template, &messages, true, "<s>", "</s>").expect("render");
    // trim_blocks drops the newline after a block tag, lstrip_blocks the indentation before one.
    assert_eq!(text, "<s>  USER: Hi\nASSISTANT:");
}

#[test]
fn a_template_file_is_read_and_named_in_errors() {
    let dir = std::env::temp_dir().join(format!("lingot-chat-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("broken.jinja");
    std::fs::write(&path, "{% if %}").expect("write");
    let err = ChatTemplate::from_file(&path).err().expect("syntax error");
    assert!(matches!(err, ChatError::Syntax { .. }), "{err}");
    assert!(err.to_string().contains("broken.jinja"), "{err}");

    let missing = dir.join("missing.jinja");
    let err = ChatTemplate::from_file(&missing).err().expect("no such file");
    assert!(err.to_string().contains("missing.jinja"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn raise_exception_becomes_a_render_error() {
    let template =
        "{% if messages[0].role != 'user' %}{{ raise_exception('first message must be from the user') }}{% endif %}ok";
    let messages = json!([{"role": "assistant", "content": "x"}]);
    let err = render_chat(template, &messages, false, "", "").expect_err("raises");
    assert!(err.to_string().contains("first message must be from the user"), "{err}");
    let messages = json!([{"role": "user", "content": "x"}]);
    assert_eq!(render_chat(template, &messages, false, "", "").expect("render"), "ok");
}

#[test]
fn malformed_messages_are_named() {
    let template = "{{ messages | length }}";
    let cases = [
        (json!({"role": "user"}), "should be a JSON array"),
        (json!(["hello"]), "message 0 should be a JSON object"),
        (
            json!([{"role": "user", "content": "a"}, {"content": "b"}]),
            "message 1 has no \"role\"",
        ),
        (
            json!([{"role": "user"}]),
            "message 0 (role \"user\") has no \"content\"",
        ),
        (json!([{"role": "user", "content": 3}]), "found a number"),
    ];
    for (messages, expected) in cases {
        let err = render_chat(template, &messages, false, "", "").expect_err("malformed");
        assert!(err.to_string().contains(expected), "{messages}: {err}");
    }
    let tool_call_only = json!([{"role": "assistant", "tool_calls": []}]);
    assert_eq!(
        render_chat(template, &tool_call_only, false, "", "").expect("render"),
        "1"
    );
}
