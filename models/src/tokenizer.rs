//! The tokenizer: GPT-2-style byte-level BPE built from a GGUF file's `tokenizer.ggml.*` metadata alone
//! (no `tokenizer.json`), encoding text to token ids and decoding ids back to text, including one token at a
//! time for streaming ([`StreamDecoder`]).
//!
//! The pipeline is the one Hugging Face `tokenizers` runs for these vocabularies, and it is that crate that
//! runs it: control and user-defined tokens become added tokens matched in the raw text first, the rest is
//! split by the pre-tokenizer regex named by `tokenizer.ggml.pre`, mapped byte-to-unicode (GPT-2's table)
//! and merged by BPE with the ranks of `tokenizer.ggml.merges`.
//!
//! Decoding does not go through the `tokenizers` decoder: each token's bytes are computed once
//! ([`Tokenizer::token_to_piece`]), because a streaming caller needs the raw bytes of a single token, which
//! may be half of a UTF-8 character. Reading the metadata keys lives in `tokenizer/metadata.rs`.

mod metadata;
mod stream;

use std::sync::OnceLock;

use thiserror::Error;
use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::{AddedToken, SplitDelimiterBehavior};

use crate::gguf::GgufFile;

pub use metadata::{TokenType, VocabMetadata};
pub use stream::StreamDecoder;

/// GGUF keys read by the tokenizer, named as llama.cpp names them.
pub mod keys {
    pub const MODEL: &str = "tokenizer.ggml.model";
    pub const PRE: &str = "tokenizer.ggml.pre";
    pub const TOKENS: &str = "tokenizer.ggml.tokens";
    pub const TOKEN_TYPE: &str = "tokenizer.ggml.token_type";
    pub const MERGES: &str = "tokenizer.ggml.merges";
    pub const BOS_ID: &str = "tokenizer.ggml.bos_token_id";
    pub const EOS_ID: &str = "tokenizer.ggml.eos_token_id";
    pub const EOT_ID: &str = "tokenizer.ggml.eot_token_id";
    pub const EOM_ID: &str = "tokenizer.ggml.eom_token_id";
    pub const PAD_ID: &str = "tokenizer.ggml.padding_token_id";
    pub const ADD_BOS: &str = "tokenizer.ggml.add_bos_token";
    pub const ADD_EOS: &str = "tokenizer.ggml.add_eos_token";
}

/// Everything that can go wrong building or using a [`Tokenizer`]; each message names the GGUF key or the
/// token id at fault.
#[derive(Debug, Error)]
pub enum TokenizerError {
    #[error("GGUF key {key} is missing")]
    MissingKey { key: &'static str },
    #[error("GGUF key {key} should be {expected}")]
    WrongType { key: &'static str, expected: &'static str },
    #[error("GGUF key {key}[{index}] should be {expected}")]
    WrongItem {
        key: &'static str,
        index: usize,
        expected: &'static str,
    },
    #[error("GGUF key {key} has {found} entries, but tokenizer.ggml.tokens has {expected}")]
    LengthMismatch {
        key: &'static str,
        found: usize,
        expected: usize,
    },
    #[error("GGUF key tokenizer.ggml.tokens is empty")]
    EmptyVocab,
    #[error("unknown token type {value} at tokenizer.ggml.token_type[{index}] (expected 0..=6)")]
    BadTokenType { index: usize, value: i64 },
    #[error("tokenizer.ggml.merges[{index}] = {merge:?} is not two tokens separated by a space")]
    BadMerge { index: usize, merge: String },
    #[error("unsupported tokenizer model: tokenizer.ggml.model = {value:?} (supported: \"gpt2\")")]
    UnsupportedModel { value: String },
    #[error("unsupported pre-tokenizer: tokenizer.ggml.pre = {value:?} (supported: {supported})")]
    UnsupportedPreTokenizer { value: String, supported: String },
    #[error("GGUF key {key} = {id} is outside the vocabulary of {vocab_size} tokens")]
    SpecialIdOutOfRange {
        key: &'static str,
        id: u64,
        vocab_size: usize,
    },
    #[error("token id {id} is outside the vocabulary of {vocab_size} tokens")]
    UnknownTokenId { id: u32, vocab_size: usize },
    #[error("building the BPE tokenizer from tokenizer.ggml.tokens/merges failed: {0}")]
    Build(String),
    #[error("encoding failed: {0}")]
    Encode(String),
}

/// Pre-tokenizer regexes by `tokenizer.ggml.pre` name, copied from the models' `tokenizer.json` (llama.cpp
/// uses the same strings). Possessive quantifiers and `(?i:...)` need Oniguruma, the engine of the
/// `tokenizers` crate's `onig` feature and of Python `tokenizers`.
const PRE_TOKENIZERS: &[(&str, &str)] = &[
    // Ling (Bailing-MoE, Bailing-MoE2): digits split one by one.
    ("bailingmoe", BAILING_REGEX),
    ("bailingmoe2", BAILING_REGEX),
];
const BAILING_REGEX: &str =
    r"'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]++[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+";

/// Texts of control tokens that end a turn when a GGUF names no `eot_token_id` (llama.cpp guesses the same
/// way; Ling's `<|endoftext|>` is one of them).
const EOT_TEXTS: &[&str] = &["<|endoftext|>", "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>"];

/// A byte-level BPE tokenizer and the special-token ids of its vocabulary.
pub struct Tokenizer {
    /// Matches special (control) token strings in the text.
    parse_special: tokenizers::Tokenizer,
    /// The same with special strings treated as text; cloned on first use.
    plain: OnceLock<tokenizers::Tokenizer>,
    tokens: Vec<String>,
    types: Vec<TokenType>,
    /// The bytes each token stands for.
    pieces: Vec<Vec<u8>>,
    bos: Option<u32>,
    eos: Option<u32>,
    eot: Option<u32>,
    pad: Option<u32>,
    end_of_generation: Vec<u32>,
    add_bos: bool,
    add_eos: bool,
}

impl Tokenizer {
    /// Builds the tokenizer from the `tokenizer.ggml.*` keys of `gguf`.
    pub fn from_gguf(gguf: &GgufFile) -> Result<Self, TokenizerError> {
        Self::from_metadata(VocabMetadata::from_gguf(gguf)?)
    }

    /// Builds the tokenizer from metadata already read (or made by hand, in tests).
    pub fn from_metadata(meta: VocabMetadata) -> Result<Self, TokenizerError> {
        if meta.model != "gpt2" {
            return Err(TokenizerError::UnsupportedModel { value: meta.model });
        }
        let regex = PRE_TOKENIZERS
            .iter()
            .find(|(name, _)| *name == meta.pre)
            .map(|(_, regex)| *regex)
            .ok_or_else(|| TokenizerError::UnsupportedPreTokenizer {
                value: meta.pre.clone(),
                supported: PRE_TOKENIZERS
                    .iter()
                    .map(|(name, _)| format!("{name:?}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        meta.check()?;

        let parse_special = build_hf_tokenizer(&meta, regex)?;
        let pieces = meta
            .tokens
            .iter()
            .zip(&meta.types)
            .map(|(text, ty)| match ty {
                // Added tokens are matched and emitted as they are written, not byte-mapped.
                TokenType::Control | TokenType::UserDefined => text.as_bytes().to_vec(),
                _ => byte_level_decode(text),
            })
            .collect();
        let eot = meta.eot.or_else(|| {
            let found = meta
                .tokens
                .iter()
                .zip(&meta.types)
                .position(|(text, ty)| *ty == TokenType::Control && EOT_TEXTS.contains(&text.as_str()));
            found.and_then(|i| u32::try_from(i).ok())
        });
        let mut end_of_generation: Vec<u32> = [meta.eos, eot, meta.eom].into_iter().flatten().collect();
        end_of_generation.dedup();
        Ok(Tokenizer {
            parse_special,
            plain: OnceLock::new(),
            tokens: meta.tokens,
            types: meta.types,
            pieces,
            bos: meta.bos,
            eos: meta.eos,
            eot,
            pad: meta.pad,
            end_of_generation,
            add_bos: meta.add_bos,
            add_eos: meta.add_eos,
        })
    }

    /// Token ids of `text`, with nothing added (no BOS/EOS: see [`Self::add_bos`]). With `parse_special`,
    /// special-token strings in the text (`<|role_end|>`) become their tokens; without, they are plain text.
    /// User-defined tokens are matched either way, as in llama.cpp and HF.
    pub fn encode(&self, text: &str, parse_special: bool) -> Result<Vec<u32>, TokenizerError> {
        let hf = if parse_special {
            &self.parse_special
        } else {
            self.plain.get_or_init(|| {
                let mut plain = self.parse_special.clone();
                plain.set_encode_special_tokens(true);
                plain
            })
        };
        let encoding = hf
            .encode_fast(text, false)
            .map_err(|e| TokenizerError::Encode(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The text of `ids`, special tokens included. Bytes that are not valid UTF-8 (a sequence cut in the
    /// middle of a character) come out as U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        let mut bytes = Vec::new();
        for &id in ids {
            bytes.extend_from_slice(self.token_to_piece(id)?);
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The bytes token `id` stands for; possibly part of a UTF-8 character (see [`StreamDecoder`]).
    pub fn token_to_piece(&self, id: u32) -> Result<&[u8], TokenizerError> {
        self.pieces
            .get(id as usize)
            .map(Vec::as_slice)
            .ok_or(TokenizerError::UnknownTokenId {
                id,
                vocab_size: self.pieces.len(),
            })
    }

    /// The token as written in `tokenizer.ggml.tokens` (byte-mapped for normal tokens: `Ġthe`).
    pub fn token_text(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    pub fn token_type(&self, id: u32) -> Option<TokenType> {
        self.types.get(id as usize).copied()
    }

    /// Whether `id` is a control token (BOS, `<|role_end|>`, `<role>`, ...), which a chat front end may hide.
    pub fn is_control(&self, id: u32) -> bool {
        self.token_type(id) == Some(TokenType::Control)
    }

    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    pub fn bos(&self) -> Option<u32> {
        self.bos
    }

    pub fn eos(&self) -> Option<u32> {
        self.eos
    }

    /// End of turn: `tokenizer.ggml.eot_token_id`, or else a control token with a well-known end-of-turn text.
    pub fn eot(&self) -> Option<u32> {
        self.eot
    }

    pub fn pad(&self) -> Option<u32> {
        self.pad
    }

    /// Whether a prompt should start with BOS (`tokenizer.ggml.add_bos_token`, false when absent).
    pub fn add_bos(&self) -> bool {
        self.add_bos
    }

    /// Whether a prompt should end with EOS (`tokenizer.ggml.add_eos_token`, false when absent).
    pub fn add_eos(&self) -> bool {
        self.add_eos
    }

    /// Whether generating `id` ends generation: EOS, EOT or EOM.
    pub fn is_end_of_generation(&self, id: u32) -> bool {
        self.end_of_generation.contains(&id)
    }
}

/// The `tokenizers` pipeline: added tokens, the named regex split, byte-to-unicode mapping, BPE.
fn build_hf_tokenizer(meta: &VocabMetadata, regex: &str) -> Result<tokenizers::Tokenizer, TokenizerError> {
    let build_err = |e: tokenizers::Error| TokenizerError::Build(e.to_string());
    let mut vocab = Vocab::default();
    for (id, text) in (0u32..).zip(&meta.tokens) {
        // A text listed twice keeps its first id, as a text-to-id map must; the later id still decodes.
        vocab.entry(text.clone()).or_insert(id);
    }
    let merges = meta.split_merges()?;
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges)
        .build()
        .map_err(build_err)?;

    let split = Split::new(
        SplitPattern::Regex(regex.to_string()),
        SplitDelimiterBehavior::Isolated,
        false,
    )
    .map_err(|e| TokenizerError::Build(format!("pre-tokenizer {:?}: {e}", meta.pre)))?;
    // The regex has already split the text: ByteLevel only maps bytes to unicode.
    let byte_level = ByteLevel::new(false, false, false);
    let pre_tokenizer = Sequence::new(vec![
        PreTokenizerWrapper::Split(split),
        PreTokenizerWrapper::ByteLevel(byte_level),
    ]);

    let mut hf = tokenizers::Tokenizer::new(bpe);
    hf.with_pre_tokenizer(Some(pre_tokenizer));
    let added: Vec<AddedToken> = meta
        .tokens
        .iter()
        .zip(&meta.types)
        .filter_map(|(text, ty)| match ty {
            TokenType::Control => Some(AddedToken::from(text.clone(), true)),
            TokenType::UserDefined => Some(AddedToken::from(text.clone(), false)),
            TokenType::Undefined | TokenType::Normal | TokenType::Unknown | TokenType::Unused | TokenType::Byte => None,
        })
        .collect();
    // The texts are already in the BPE vocabulary, so the added tokens keep the GGUF ids.
    hf.add_tokens(&added);
    Ok(hf)
}

/// GPT-2's byte-to-unicode table: printable bytes stand for themselves, the other 68 are moved to U+0100...
fn byte_to_char() -> [char; 256] {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for b in 0..=255u8 {
        table[b as usize] = if printable(b) {
            char::from(b)
        } else {
            let c = char::from_u32(next).unwrap_or(char::REPLACEMENT_CHARACTER);
            next += 1;
            c
        };
    }
    table
}

/// The bytes of a byte-mapped token text; a text with a character outside the table is taken as it is
/// written (what HF's ByteLevel decoder does).
fn byte_level_decode(text: &str) -> Vec<u8> {
    static CHAR_TO_BYTE: OnceLock<std::collections::HashMap<char, u8>> = OnceLock::new();
    let table = CHAR_TO_BYTE.get_or_init(|| (0..=255u8).zip(byte_to_char()).map(|(b, c)| (c, b)).collect());
    text.chars()
        .map(|c| table.get(&c).copied())
        .collect::<Option<Vec<u8>>>()
        .unwrap_or_else(|| text.as_bytes().to_vec())
}
