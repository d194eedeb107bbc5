//! Chat templates: the Jinja template a GGUF carries in `tokenizer.chat_template` (or one read from a file),
//! rendered with minijinja the way Hugging Face transformers' `apply_chat_template` renders it, so that a
//! conversation becomes exactly the prompt text the model was trained on.
//!
//! What transformers sets up and this module copies: `trim_blocks` and `lstrip_blocks`, Python string and
//! dict methods (`.strip()`, `.startswith()`, `.split()`, `.items()`, via minijinja-contrib's pycompat),
//! a `tojson` that writes like `json.dumps` (`", "` and `": "` separators, no HTML escaping),
//! `raise_exception(msg)`, and the variables `messages`, `tools`, `add_generation_prompt`, `bos_token`,
//! `eos_token`. Tokenizing the rendered text is the caller's business (with special tokens parsed).

use std::path::{Path, PathBuf};

use minijinja::value::{Kwargs, Value};
use minijinja::{context, Environment, ErrorKind};
use serde::Serialize;
use thiserror::Error;

use crate::gguf::GgufFile;

/// The GGUF key holding the model's chat template.
pub const CHAT_TEMPLATE_KEY: &str = "tokenizer.chat_template";

const TEMPLATE_NAME: &str = "chat";

/// What can go wrong loading a template or rendering a conversation.
#[derive(Debug, Error)]
pub enum ChatError {
    #[error("GGUF key {CHAT_TEMPLATE_KEY} is missing: this model has no chat template (give one as a file)")]
    MissingTemplate,
    #[error("GGUF key {CHAT_TEMPLATE_KEY} should be a string")]
    TemplateNotString,
    #[error("reading chat template file {path}: {source}")]
    ReadFile { path: PathBuf, source: std::io::Error },
    #[error("chat template from {origin} does not parse: {source}")]
    Syntax { origin: String, source: minijinja::Error },
    #[error("rendering the chat template from {origin} failed: {source}")]
    Render { origin: String, source: minijinja::Error },
    #[error("messages should be a JSON array of {{\"role\", \"content\"}} objects, found {found}")]
    MessagesNotArray { found: &'static str },
    #[error("message {index} should be a JSON object with \"role\" and \"content\", found {found}")]
    MessageNotObject { index: usize, found: &'static str },
    #[error("message {index} has no \"role\" string")]
    MissingRole { index: usize },
    #[error("message {index} (role {role:?}) has no \"content\"")]
    MissingContent { index: usize, role: String },
    #[error(
        "message {index} (role {role:?}): \"content\" should be a string, an array of parts or null, found {found}"
    )]
    BadContent {
        index: usize,
        role: String,
        found: &'static str,
    },
    #[error("tools should be a JSON array, found {found}")]
    ToolsNotArray { found: &'static str },
}

/// One conversation to render: messages in the OpenAI shape (`[{"role": "user", "content": "Hi"}, ...]`).
#[derive(Clone, Copy, Debug)]
pub struct ChatRequest<'a> {
    pub messages: &'a serde_json::Value,
    /// End with the opening of an assistant turn, for the model to complete.
    pub add_generation_prompt: bool,
    /// The text of the BOS token (`<|startoftext|>`), for templates that write it.
    pub bos_token: &'a str,
    /// The text of the EOS token (`<|role_end|>`).
    pub eos_token: &'a str,
    /// Function definitions (a JSON array) for templates that list tools; `None` renders as `none`.
    pub tools: Option<&'a serde_json::Value>,
}

/// A parsed chat template, ready to render any number of conversations.
pub struct ChatTemplate {
    env: Environment<'static>,
    origin: String,
}

impl ChatTemplate {
    /// Parses `source`; `origin` (a file name, the GGUF key) names it in error messages.
    pub fn new(origin: impl Into<String>, source: impl Into<String>) -> Result<Self, ChatError> {
        let origin = origin.into();
        let mut env = hf_environment();
        env.add_template_owned(TEMPLATE_NAME, source.into())
            .map_err(|source| ChatError::Syntax {
                origin: origin.clone(),
                source,
            })?;
        Ok(ChatTemplate { env, origin })
    }

    /// The template a GGUF carries in `tokenizer.chat_template`.
    pub fn from_gguf(gguf: &GgufFile) -> Result<Self, ChatError> {
        let value = gguf.get(CHAT_TEMPLATE_KEY).ok_or(ChatError::MissingTemplate)?;
        let source = value.as_str().ok_or(ChatError::TemplateNotString)?;
        Self::new(CHAT_TEMPLATE_KEY, source)
    }

    /// A template read from a file (`--chat-template-file`), replacing the model's.
    pub fn from_file(path: &Path) -> Result<Self, ChatError> {
        let source = std::fs::read_to_string(path).map_err(|source| ChatError::ReadFile {
            path: path.to_path_buf(),
            source,
        })?;
        Self::new(path.display().to_string(), source)
    }

    /// The prompt text of `request`, after checking that its messages are well formed.
    pub fn render(&self, request: &ChatRequest) -> Result<String, ChatError> {
        check_messages(request.messages)?;
        if let Some(tools) = request.tools.filter(|tools| !tools.is_array()) {
            return Err(ChatError::ToolsNotArray {
                found: json_kind(tools),
            });
        }
        let ctx = context! {
            messages => Value::from_serialize(request.messages),
            tools => request.tools.map(Value::from_serialize),
            add_generation_prompt => request.add_generation_prompt,
            bos_token => request.bos_token,
            eos_token => request.eos_token,
        };
        let render_err = |source| ChatError::Render {
            origin: self.origin.clone(),
            source,
        };
        let template = self.env.get_template(TEMPLATE_NAME).map_err(render_err)?;
        template.render(ctx).map_err(render_err)
    }
}

/// Renders `messages` with the template text `template` in one call.
pub fn render_chat(
    template: &str,
    messages: &serde_json::Value,
    add_generation_prompt: bool,
    bos: &str,
    eos: &str,
) -> Result<String, ChatError> {
    ChatTemplate::new("the given template", template)?.render(&ChatRequest {
        messages,
        add_generation_prompt,
        bos_token: bos,
        eos_token: eos,
        tools: None,
    })
}

/// A minijinja environment set up like transformers' sandboxed Jinja environment for chat templates.
fn hf_environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_filter("tojson", tojson);
    env.add_function("raise_exception", raise_exception);
    env
}

/// `raise_exception("...")`: templates call it to reject a conversation (e.g. roles out of order).
fn raise_exception(message: String) -> Result<Value, minijinja::Error> {
    Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
}

/// transformers' `tojson`: `json.dumps(x, ensure_ascii=False, indent=indent)`, unescaped.
fn tojson(value: &Value, kwargs: Kwargs) -> Result<Value, minijinja::Error> {
    let indent: Option<usize> = kwargs.get("indent")?;
    kwargs.assert_all_used()?;
    let mut out = Vec::new();
    let written = match indent {
        Some(width) => {
            let spaces = vec![b' '; width];
            let formatter = serde_json::ser::PrettyFormatter::with_indent(&spaces);
            value.serialize(&mut serde_json::Serializer::with_formatter(&mut out, formatter))
        }
        None => value.serialize(&mut serde_json::Serializer::with_formatter(&mut out, PythonFormatter)),
    };
    written.map_err(|e| minijinja::Error::new(ErrorKind::BadSerialization, e.to_string()))?;
    let text = String::from_utf8(out).map_err(|e| minijinja::Error::new(ErrorKind::BadSerialization, e.to_string()))?;
    Ok(Value::from_safe_string(text))
}

/// Compact JSON with Python's default separators: `{"a": 1, "b": [1, 2]}`.
struct PythonFormatter;

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(&mut self, writer: &mut W, first: bool) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(&mut self, writer: &mut W, first: bool) -> std::io::Result<()> {
        if first {
            Ok(())
        } else {
            writer.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, writer: &mut W) -> std::io::Result<()> {
        writer.write_all(b": ")
    }
}

/// Messages must be objects with a string `role` and a `content` (string, parts or null); an assistant
/// message that only calls tools may leave `content` out.
fn check_messages(messages: &serde_json::Value) -> Result<(), ChatError> {
    let list = messages.as_array().ok_or(ChatError::MessagesNotArray {
        found: json_kind(messages),
    })?;
    for (index, message) in list.iter().enumerate() {
        let fields = message.as_object().ok_or(ChatError::MessageNotObject {
            index,
            found: json_kind(message),
        })?;
        let role = fields
            .get("role")
            .and_then(serde_json::Value::as_str)
            .ok_or(ChatError::MissingRole { index })?
            .to_string();
        match fields.get("content") {
            Some(serde_json::Value::String(_) | serde_json::Value::Array(_) | serde_json::Value::Null) => {}
            Some(other) => {
                return Err(ChatError::BadContent {
                    index,
                    role,
                    found: json_kind(other),
                })
            }
            None if fields.contains_key("tool_calls") => {}
            None => return Err(ChatError::MissingContent { index, role }),
        }
    }
    Ok(())
}

fn json_kind(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a bool",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}
