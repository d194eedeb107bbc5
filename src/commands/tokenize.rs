//! `lingot tokenize`: the token ids of a text, or of a conversation rendered with the chat template, as a
//! JSON array alone on the last line of stdout. Also the text helpers `run` shares: opening a model's
//! tokenizer and chat template, reading a messages file, turning a prompt into ids.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;
use lingot_models::chat::{ChatRequest, ChatTemplate};
use lingot_models::gguf::GgufFile;
use lingot_models::tokenizer::Tokenizer;
use serde_json::Value as Json;

use crate::model::DEFAULT_MODEL;

#[derive(Debug, Args)]
pub struct TokenizeArgs {
    /// Model file (GGUF) whose tokenizer to use. Default: the built-in `austen` model.
    #[arg(short = 'm', long = "model", value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Render this conversation (a JSON array of {"role", "content"} messages) with the chat template
    /// and the generation prompt, and tokenize that instead of TEXT.
    #[arg(long, value_name = "MESSAGES.json", conflicts_with = "text")]
    pub chat: Option<PathBuf>,
    /// A chat template (Jinja) to use instead of the model's.
    #[arg(long = "chat-template-file", value_name = "FILE", requires = "chat")]
    pub chat_template_file: Option<PathBuf>,
    /// Treat special-token strings in the text (`<|role_end|>`) as plain text.
    #[arg(long = "no-parse-special")]
    pub no_parse_special: bool,
    /// Print only the JSON array, not one `id -> 'piece'` line per token before it.
    #[arg(long)]
    pub ids: bool,
    /// The text to tokenize (default: standard input).
    pub text: Option<String>,
}

pub fn run(args: TokenizeArgs) -> Result<()> {
    let path = args.model.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_MODEL));
    let file = GgufFile::open(&path).with_context(|| format!("cannot load model {}", path.display()))?;
    let tokenizer = open_tokenizer(&file)?;
    let parse_special = !args.no_parse_special;
    let tokens = match &args.chat {
        Some(messages_path) => {
            let messages = read_messages(messages_path)?;
            let template = chat_template(&file, args.chat_template_file.as_deref())?;
            let text = render_prompt(&template, &tokenizer, &messages)
                .with_context(|| format!("messages file {}", messages_path.display()))?;
            encode_prompt(&tokenizer, &text, parse_special)?
        }
        None => {
            let text = match args.text {
                Some(text) => text,
                None => read_stdin()?,
            };
            encode_prompt(&tokenizer, &text, parse_special)?
        }
    };
    if !args.ids {
        for &id in &tokens {
            let piece = String::from_utf8_lossy(tokenizer.token_to_piece(id)?);
            println!("{id:>6} -> {piece:?}");
        }
    }
    println!("{}", serde_json::to_string(&tokens)?);
    Ok(())
}

/// The tokenizer of a model file, with the file named in any error.
pub fn open_tokenizer(file: &GgufFile) -> Result<Tokenizer> {
    Tokenizer::from_gguf(file).with_context(|| format!("{}: cannot build the tokenizer", file.path().display()))
}

/// The chat template of `--chat-template-file` if given, else the model's.
pub fn chat_template(file: &GgufFile, template_file: Option<&Path>) -> Result<ChatTemplate> {
    Ok(match template_file {
        Some(path) => ChatTemplate::from_file(path).context("--chat-template-file")?,
        None => ChatTemplate::from_gguf(file).with_context(|| format!("{}", file.path().display()))?,
    })
}

/// A messages file: a JSON array of `{"role", "content"}` objects.
pub fn read_messages(path: &Path) -> Result<Json> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read messages file {}", path.display()))?;
    let messages: Json =
        serde_json::from_str(&text).with_context(|| format!("messages file {} is not valid JSON", path.display()))?;
    if !messages.is_array() {
        anyhow::bail!(
            "messages file {} should hold a JSON array of {{\"role\", \"content\"}} messages",
            path.display()
        );
    }
    Ok(messages)
}

/// The prompt text of a conversation: the template rendered with the generation prompt and the
/// tokenizer's BOS/EOS texts.
pub fn render_prompt(template: &ChatTemplate, tokenizer: &Tokenizer, messages: &Json) -> Result<String> {
    let text_of = |id: Option<u32>| id.and_then(|id| tokenizer.token_text(id)).unwrap_or("").to_string();
    let (bos, eos) = (text_of(tokenizer.bos()), text_of(tokenizer.eos()));
    let request = ChatRequest {
        messages,
        add_generation_prompt: true,
        bos_token: &bos,
        eos_token: &eos,
        tools: None,
    };
    Ok(template.render(&request)?)
}

/// The ids of a prompt, starting with BOS when the model asks for one (`add_bos_token`) and the text
/// does not already begin with it.
pub fn encode_prompt(tokenizer: &Tokenizer, text: &str, parse_special: bool) -> Result<Vec<u32>> {
    let mut tokens = tokenizer.encode(text, parse_special)?;
    if let Some(bos) = tokenizer.bos().filter(|_| tokenizer.add_bos()) {
        if tokens.first() != Some(&bos) {
            tokens.insert(0, bos);
        }
    }
    Ok(tokens)
}

/// All of standard input as UTF-8 text.
pub fn read_stdin() -> Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("cannot read the text from standard input (is it UTF-8?)")?;
    Ok(text)
}
