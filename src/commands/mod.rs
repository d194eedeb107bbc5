//! One module per subcommand.

pub mod devices;
pub mod dump_ir;
pub mod logits;
pub mod perplexity;
pub mod run;
pub mod sampling;
pub mod tokenize;
