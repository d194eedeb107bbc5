//! lingot's reference CPU backend: obviously-correct f32 semantics for every op.
//!
//! Activations are f32; weights stay as stored and are dequantized a row at a time where a
//! product reads them (`matmul`), or whole where an elementwise op does (norm weights, the expert
//! bias). Rayon splits the heavy ops. Other backends are measured against this one, so clarity
//! wins over speed here; a faster path must never change a result beyond f32 summation order.

pub mod attention;
pub mod elementwise;
mod exec;
pub mod matmul;
pub mod quant;
pub mod routing;
pub mod tensor;
mod value;

pub use exec::CpuBackend;

/// An error inside one op; the executor adds the node.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct CpuError(pub String);
