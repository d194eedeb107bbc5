//! lingot's wgpu backend: WGSL compute kernels over GGUF-quantized weights.
//!
//! - [`device`]: adapters (`lingot devices`, `--device N`, `--backend auto`) and the opened device
//!   with its real limits and optional features.
//! - [`kernels`]: the catalogue of kernels; `assemble`: the one text step that makes their WGSL
//!   variants.
//! - `weights`, `kv`: weights uploaded once in their stored dtype (split over several buffers
//!   when larger than one binding) and GPU-resident KV caches.
//! - `plan`, `lower`, `lower_matrix`, `lower_fused`, `lower_attention`: a graph compiled into
//!   buffers and kernel launches.
//! - [`WgpuBackend`]: runs plans, submitted in parts as they are recorded; [`profile`]: per-kernel
//!   GPU times of one run (`WgpuBackend::profile`, timestamp queries in `timer`).
//!
//! What must not live here: anything about a particular model (that is `lingot-models`).

mod assemble;
mod backend;
pub mod device;
mod error;
pub mod kernels;
mod kv;
mod lower;
mod lower_attention;
mod lower_fused;
mod lower_matrix;
mod pipelines;
mod plan;
pub mod profile;
mod timer;
mod weights;

pub use backend::{AttentionMerge, WgpuBackend, WgpuOptions};
pub use device::{list_adapters, pick, AdapterInfoRow};
pub use error::WgpuError;
pub use wgpu::Adapter;
