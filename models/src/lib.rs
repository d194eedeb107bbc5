
pub mod chat;
pub mod tokenizer;
