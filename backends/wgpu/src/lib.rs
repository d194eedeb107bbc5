//! lingot's wgpu backend: WGSL compute kernels over GGUF-quantized weights.
//!
//! - [`device`]: adapters (`lingot devices`, `--device N`, `--backend auto`) and the opened device.
//! - [`kernels`]: the catalogue of kernels and the one text step that makes WGSL variants.
//!
//! What must not live here: anything about a particular model (that is `lingot-models`).

pub mod kernels;
