//! One module per subcommand.

pub mod bench;
pub mod devices;
pub mod dump_ir;
pub mod logits;
pub mod perplexity;
pub mod run;
pub mod sampling;
pub mod sweep_bench;
pub mod synth;
pub mod tokenize;
