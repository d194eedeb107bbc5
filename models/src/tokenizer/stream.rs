//! [`StreamDecoder`]: turns tokens into text one at a time while generating, holding back the bytes of a
//! UTF-8 character that a token leaves unfinished (byte-level BPE splits `🙂` over several tokens).

use super::{Tokenizer, TokenizerError};

/// Buffers the trailing bytes of an unfinished UTF-8 character between tokens.
#[derive(Clone, Debug, Default)]
pub struct StreamDecoder {
    pending: Vec<u8>,
}

impl StreamDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// The text that token `id` completes: possibly empty (the token ends inside a character), possibly more
    /// than the token itself (it finishes a character begun earlier).
    pub fn push(&mut self, tokenizer: &Tokenizer, id: u32) -> Result<String, TokenizerError> {
        let piece = tokenizer.token_to_piece(id)?;
        Ok(self.push_bytes(piece))
    }

    /// Like [`Self::push`] for raw bytes. Bytes that can never become UTF-8 come out as U+FFFD.
    pub fn push_bytes(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut text = String::new();
        let mut rest = self.pending.as_slice();
        loop {
            match std::str::from_utf8(rest) {
                Ok(valid) => {
                    text.push_str(valid);
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    // The prefix was just checked, so this never falls back.
                    text.push_str(std::str::from_utf8(valid).unwrap_or_default());
                    match e.error_len() {
                        // Unfinished character at the end: wait for the next token.
                        None => {
                            rest = after;
                            break;
                        }
                        Some(bad) => {
                            text.push(char::REPLACEMENT_CHARACTER);
                            rest = &after[bad..];
                        }
                    }
                }
            }
        }
        self.pending = rest.to_vec();
        text
    }

    /// Whatever is still held back (an unfinished character at the end of generation), as U+FFFD.
    pub fn finish(&mut self) -> String {
        let text = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        text
    }
}
