//! What every backend shares: host tensors in and out, the weights a graph names, and the
//! [`Backend`] trait the command line drives.

use crate::{Bindings, DType, Graph};

/// A weight as stored: its dtype, shape (outermost first) and raw GGUF bytes.
#[derive(Debug, Clone, Copy)]
pub struct WeightData<'a> {
    pub dtype: DType,
    pub shape: &'a [usize],
    pub bytes: &'a [u8],
}

/// Where a backend finds the tensors named by `weight` nodes (a GGUF file, a test's tables).
pub trait Weights: Sync {
    fn weight(&self, name: &str) -> Option<WeightData<'_>>;
}

/// A tensor on the host: inputs to and outputs from a backend.
#[derive(Debug, Clone, PartialEq)]
pub enum HostTensor {
    F32 { shape: Vec<usize>, data: Vec<f32> },
    I32 { shape: Vec<usize>, data: Vec<i32> },
}

impl HostTensor {
    pub fn shape(&self) -> &[usize] {
        match self {
            HostTensor::F32 { shape, .. } | HostTensor::I32 { shape, .. } => shape,
        }
    }

    pub fn as_f32(&self) -> Option<&[f32]> {
        match self {
            HostTensor::F32 { data, .. } => Some(data),
            HostTensor::I32 { .. } => None,
        }
    }

    pub fn as_i32(&self) -> Option<&[i32]> {
        match self {
            HostTensor::I32 { data, .. } => Some(data),
            HostTensor::F32 { .. } => None,
        }
    }
}

/// Errors a backend reports while preparing or running a graph.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("weight \"{0}\" is not in the model file")]
    MissingWeight(String),
    #[error("input \"{0}\" was not given")]
    MissingInput(String),
    #[error("node {node}: {msg}")]
    Node { node: String, msg: String },
    #[error("KV cache \"{cache}\" holds {capacity} positions; this batch needs {needed}")]
    CacheFull {
        cache: String,
        capacity: usize,
        needed: usize,
    },
    #[error("{0}")]
    Device(String),
}

/// A backend runs graphs; it owns the KV caches the graph's `kv_write` nodes name.
pub trait Backend {
    /// A short name for logs (`cpu`, `wgpu (NVIDIA H100, Vulkan)`).
    fn name(&self) -> String;

    /// Evaluates `graph` with `inputs` under `bindings` (`t` tokens; `kv` positions cached once
    /// this batch is written) and returns the graph outputs in order.
    fn run(
        &mut self,
        graph: &Graph,
        inputs: &[(&str, HostTensor)],
        bindings: Bindings,
    ) -> Result<Vec<HostTensor>, BackendError>;

    /// Forgets every cached position (a new sequence starts at position 0).
    fn reset(&mut self);
}
