//! Reading the `tokenizer.ggml.*` keys of a GGUF into [`VocabMetadata`], plain data the tokenizer is built
//! from, and checking that they agree with each other. Nothing here knows about BPE.

use super::{keys, TokenizerError};
use crate::gguf::{GgufFile, MetaValue};

/// llama.cpp's token types (`tokenizer.ggml.token_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenType {
    Undefined,
    Normal,
    Unknown,
    /// Special tokens: BOS, EOS, chat markers. Matched in text only when special tokens are parsed.
    Control,
    /// Added tokens that are always matched in text.
    UserDefined,
    Unused,
    Byte,
}

impl TokenType {
    pub fn from_gguf(value: i64) -> Option<Self> {
        Some(match value {
            0 => TokenType::Undefined,
            1 => TokenType::Normal,
            2 => TokenType::Unknown,
            3 => TokenType::Control,
            4 => TokenType::UserDefined,
            5 => TokenType::Unused,
            6 => TokenType::Byte,
            _ => return None,
        })
    }
}

/// What a GGUF says about its vocabulary.
#[derive(Clone, Debug, Default)]
pub struct VocabMetadata {
    /// `tokenizer.ggml.model`: only `gpt2` (byte-level BPE) is supported.
    pub model: String,
    /// `tokenizer.ggml.pre`: names the pre-tokenizer regex.
    pub pre: String,
    /// Token texts, byte-mapped for normal tokens (`Ġthe`), as written for added tokens (`<|role_end|>`).
    pub tokens: Vec<String>,
    /// One per token (all `Normal` when the GGUF has no `tokenizer.ggml.token_type`).
    pub types: Vec<TokenType>,
    /// `"left right"` pairs, highest priority first.
    pub merges: Vec<String>,
    pub bos: Option<u32>,
    pub eos: Option<u32>,
    pub eot: Option<u32>,
    pub eom: Option<u32>,
    pub pad: Option<u32>,
    pub add_bos: bool,
    pub add_eos: bool,
}

impl VocabMetadata {
    pub fn from_gguf(gguf: &GgufFile) -> Result<Self, TokenizerError> {
        let tokens = string_array(gguf, keys::TOKENS)?;
        let types = match gguf.get(keys::TOKEN_TYPE) {
            None => vec![TokenType::Normal; tokens.len()],
            Some(value) => token_types(value)?,
        };
        let merges = string_array(gguf, keys::MERGES)?;
        Ok(VocabMetadata {
            model: string(gguf, keys::MODEL)?,
            pre: string(gguf, keys::PRE)?,
            tokens,
            types,
            merges,
            bos: token_id(gguf, keys::BOS_ID)?,
            eos: token_id(gguf, keys::EOS_ID)?,
            eot: token_id(gguf, keys::EOT_ID)?,
            eom: token_id(gguf, keys::EOM_ID)?,
            pad: token_id(gguf, keys::PAD_ID)?,
            add_bos: flag(gguf, keys::ADD_BOS)?,
            add_eos: flag(gguf, keys::ADD_EOS)?,
        })
    }

    /// Checks what the keys say about each other: one type per token, special ids inside the vocabulary.
    pub(super) fn check(&self) -> Result<(), TokenizerError> {
        let vocab_size = self.tokens.len();
        if vocab_size == 0 {
            return Err(TokenizerError::EmptyVocab);
        }
        if self.types.len() != vocab_size {
            return Err(TokenizerError::LengthMismatch {
                key: keys::TOKEN_TYPE,
                found: self.types.len(),
                expected: vocab_size,
            });
        }
        let ids = [
            (keys::BOS_ID, self.bos),
            (keys::EOS_ID, self.eos),
            (keys::EOT_ID, self.eot),
            (keys::EOM_ID, self.eom),
            (keys::PAD_ID, self.pad),
        ];
        for (key, id) in ids {
            if let Some(id) = id.filter(|&id| id as usize >= vocab_size) {
                return Err(TokenizerError::SpecialIdOutOfRange {
                    key,
                    id: id.into(),
                    vocab_size,
                });
            }
        }
        Ok(())
    }

    /// The merges as `(left, right)` pairs. Byte-mapped token texts hold no space, so the first space splits.
    pub(super) fn split_merges(&self) -> Result<Vec<(String, String)>, TokenizerError> {
        self.merges
            .iter()
            .enumerate()
            .map(|(index, merge)| match merge.split_once(' ') {
                Some((left, right)) if !left.is_empty() && !right.is_empty() => {
                    Ok((left.to_string(), right.to_string()))
                }
                _ => Err(TokenizerError::BadMerge {
                    index,
                    merge: merge.clone(),
                }),
            })
            .collect()
    }
}

fn string(gguf: &GgufFile, key: &'static str) -> Result<String, TokenizerError> {
    let value = gguf.get(key).ok_or(TokenizerError::MissingKey { key })?;
    value.as_str().map(str::to_string).ok_or(TokenizerError::WrongType {
        key,
        expected: "a string",
    })
}

fn array<'a>(gguf: &'a GgufFile, key: &'static str) -> Result<&'a [MetaValue], TokenizerError> {
    let value = gguf.get(key).ok_or(TokenizerError::MissingKey { key })?;
    value.as_array().ok_or(TokenizerError::WrongType {
        key,
        expected: "an array",
    })
}

fn string_array(gguf: &GgufFile, key: &'static str) -> Result<Vec<String>, TokenizerError> {
    array(gguf, key)?
        .iter()
        .enumerate()
        .map(|(index, item)| {
            item.as_str().map(str::to_string).ok_or(TokenizerError::WrongItem {
                key,
                index,
                expected: "a string",
            })
        })
        .collect()
}

fn token_types(value: &MetaValue) -> Result<Vec<TokenType>, TokenizerError> {
    let key = keys::TOKEN_TYPE;
    let items = value.as_array().ok_or(TokenizerError::WrongType {
        key,
        expected: "an array",
    })?;
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let value = item.as_i64().ok_or(TokenizerError::WrongItem {
                key,
                index,
                expected: "an integer",
            })?;
            TokenType::from_gguf(value).ok_or(TokenizerError::BadTokenType { index, value })
        })
        .collect()
}

fn token_id(gguf: &GgufFile, key: &'static str) -> Result<Option<u32>, TokenizerError> {
    let Some(value) = gguf.get(key) else {
        return Ok(None);
    };
    let id = value.as_u64().and_then(|id| u32::try_from(id).ok());
    id.map(Some).ok_or(TokenizerError::WrongType {
        key,
        expected: "a token id (an integer in 0..2^32)",
    })
}

fn flag(gguf: &GgufFile, key: &'static str) -> Result<bool, TokenizerError> {
    match gguf.get(key) {
        None => Ok(false),
        Some(value) => value.as_bool().ok_or(TokenizerError::WrongType {
            key,
            expected: "a bool",
        }),
    }
}
