//! A made-up vocabulary with Ling's layout: the 256 byte tokens (GPT-2's byte-to-unicode order),
//! filler tokens built by merges, Ling's special tokens at their released ids, then `[PADn]`
//! tokens up to the vocabulary size, as llama.cpp's converter pads.
//!
//! Filler tokens are letter strings: a first character from `Ġ` (a leading space), `a-z` or
//! `A-Z`, then `a-z`. Level 2 (two characters) comes first, then level 3, and so on; each token
//! `xyz` has the merge `xy z`, whose left side is a token of the level before, so every merge's
//! parts and result are in the vocabulary. A level that only partly fits is sampled at random
//! (fixed seed), so short vocabularies are not all `Ġa…`.

use rand::rngs::SmallRng;
use rand::SeedableRng;

use super::SynthError;

/// Ling's special tokens, in the order of their released ids (`<|startoftext|>` = 156891).
pub const SPECIAL_TOKENS: [&str; 13] = [
    "<|startoftext|>",
    "<|endoftext|>",
    "[CLS]",
    "[gMASK]",
    "<|role_end|>",
    "<role>",
    "</role>",
    "<think>",
    "</think>",
    "<tool_call>",
    "</tool_call>",
    "<tool_response>",
    "</tool_response>",
];
/// Offsets in [`SPECIAL_TOKENS`] of BOS, EOS (`<|role_end|>`) and EOT/PAD (`<|endoftext|>`).
pub const BOS_OFFSET: usize = 0;
pub const EOS_OFFSET: usize = 4;
pub const PAD_OFFSET: usize = 1;

/// llama.cpp token types.
const NORMAL: i32 = 1;
const CONTROL: i32 = 3;
const UNUSED: i32 = 5;

/// The `tokenizer.ggml.*` arrays of a synthetic vocabulary.
#[derive(Debug, Clone)]
pub struct Vocab {
    pub tokens: Vec<String>,
    pub types: Vec<i32>,
    pub merges: Vec<String>,
}

/// Second and later characters of filler tokens.
const REST: &[u8; 26] = b"abcdefghijklmnopqrstuvwxyz";

/// First characters of filler tokens: a leading space (`Ġ`), then lower and upper case.
fn first_chars() -> Vec<char> {
    std::iter::once('Ġ').chain('a'..='z').chain('A'..='Z').collect()
}

/// The text of filler token `index` of `level` characters (mixed radix: first, then base 26).
fn filler_text(level: u32, mut index: u64, first: &[char]) -> String {
    let mut tail = Vec::with_capacity(level as usize);
    for _ in 1..level {
        tail.push(REST[(index % 26) as usize] as char);
        index /= 26;
    }
    let mut s = String::with_capacity(level as usize + 2);
    s.push(first[index as usize]);
    s.extend(tail.iter().rev());
    s
}

/// Builds a vocabulary of `vocab_size` tokens whose special tokens start at `first_special`.
pub fn build(vocab_size: usize, first_special: usize) -> Result<Vocab, SynthError> {
    let end_special = first_special + SPECIAL_TOKENS.len();
    if first_special < 256 || end_special > vocab_size {
        return Err(SynthError::Vocab(format!(
            "{} special tokens at {first_special} do not fit after the 256 byte tokens in a vocabulary of {vocab_size}",
            SPECIAL_TOKENS.len()
        )));
    }
    let mut tokens: Vec<String> = byte_tokens();
    let mut merges = Vec::with_capacity(first_special - 256);
    let first = first_chars();
    let mut rng = SmallRng::seed_from_u64(0x4c49_4e47);
    let mut level = 2u32;
    while tokens.len() < first_special {
        let count = first.len() as u64 * 26u64.pow(level - 1);
        let want = (first_special - tokens.len()) as u64;
        let indices: Vec<u64> = if want >= count {
            (0..count).collect()
        } else {
            // `want` < `count` here, and `count` fits a usize whenever `want` does not overflow it.
            let picked = rand::seq::index::sample(&mut rng, count as usize, want as usize);
            picked.into_iter().map(|i| i as u64).collect()
        };
        for i in indices {
            let text = filler_text(level, i, &first);
            let split = text.len() - 1; // the last character is ASCII
            merges.push(format!("{} {}", &text[..split], &text[split..]));
            tokens.push(text);
        }
        level += 1;
    }
    let mut types = vec![NORMAL; tokens.len()];
    for s in SPECIAL_TOKENS {
        tokens.push(s.to_string());
        types.push(CONTROL);
    }
    for id in end_special..vocab_size {
        tokens.push(format!("[PAD{id}]"));
        types.push(UNUSED);
    }
    Ok(Vocab { tokens, types, merges })
}

/// GPT-2's byte tokens in the order of its `bytes_to_unicode` table: the printable bytes as
/// themselves, then the other 68 as U+0100 onwards.
fn byte_tokens() -> Vec<String> {
    let printable = |b: u8| matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
    let shown = (0..=255u8).filter(|&b| printable(b)).map(char::from);
    let moved = (256u32..).take(68).filter_map(char::from_u32);
    shown.chain(moved).map(String::from).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn layout_and_merges_are_consistent() {
        let v = build(1024, 1011).expect("vocab");
        assert_eq!(v.tokens.len(), 1024);
        assert_eq!(v.types.len(), 1024);
        assert_eq!(v.tokens[0], "!");
        assert_eq!(v.tokens[188], "\u{100}");
        assert_eq!(v.tokens[1011], "<|startoftext|>");
        assert_eq!(v.tokens[1015], "<|role_end|>");
        assert_eq!(v.merges.len(), 1011 - 256);
        let known: HashSet<&str> = v.tokens.iter().map(String::as_str).collect();
        assert_eq!(known.len(), 1024, "token texts are unique");
        for m in &v.merges {
            let (l, r) = m.split_once(' ').expect("two parts");
            assert!(known.contains(l) && known.contains(r), "{m}");
            assert!(known.contains(format!("{l}{r}").as_str()), "{m}");
        }
    }

    #[test]
    fn too_small_a_vocabulary_is_an_error() {
        assert!(build(300, 290).is_err());
        assert!(build(1024, 100).is_err());
    }
}
