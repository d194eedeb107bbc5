//! Everything that knows about model files: GGUF read/write (mmap), .npy, the tokenizer and chat
//! template from GGUF metadata, and the Bailing-MoE2 graph builder.
//!
//! What must not live here: op semantics (ir) or how ops run (backends).

pub mod bailing_moe2;
pub mod chat;
pub mod gguf;
pub mod npy;
pub mod sampling;
pub mod synth;
pub mod tokenizer;
