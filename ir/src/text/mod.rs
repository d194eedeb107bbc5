//! The text form of a graph: [`print`] and [`parse`], with `print(parse(s)) == s` for anything
//! the printer wrote. `lex` splits lines into tokens, `parts` maps an op name and attributes back
//! to an [`Op`](crate::Op), `print` and `parse` do the rest. Syntax is documented in `parse.rs`.

mod lex;
mod parse;
mod parts;
mod print;

pub use parse::parse;
pub use parts::op_from_parts;
pub use print::print;

pub(crate) use print::{label, quote, Numbering};
