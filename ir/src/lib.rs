//! lingot's op IR.
//!
//! A model is a [`Graph`] of [`Op`] nodes over tensors whose [`TensorType`] is a [`DType`] and a
//! [`Shape`] that may hold the symbols `t` (tokens in the batch) and `kv` (cached positions).
//! The graph has a text form ([`print()`], [`parse()`]; `print(parse(s))` is a fixed point), a
//! verifier that names the offending node, and a Graphviz export.
//!
//! What must not live here: anything about a particular model, file format or backend.

mod dot;
mod dtype;
pub mod exec;
mod graph;
pub mod infer;
mod op;
mod shape;
mod text;
mod verify;

pub use dot::to_dot;
pub use dtype::DType;
pub use graph::{Graph, Node, NodeId, Operand, TensorType, Value};
pub use op::{Arity, Attr, Op};
pub use shape::{Bindings, Dim, Shape, Sym};
pub use text::{op_from_parts, parse, print};
pub use verify::verify;

/// Errors from building, verifying or parsing a graph. Each names the node or line.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum IrError {
    #[error("node {node}: {msg}")]
    Type { node: String, msg: String },
    #[error("line {line}: {msg}")]
    Parse { line: usize, msg: String },
}
