//! One module per subcommand.

pub mod dump_ir;
pub mod logits;
