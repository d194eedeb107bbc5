//! GGUF files: read (memory-mapped, every field checked) and write (streamed, atomic).
//!
//! - `value.rs`: [`MetaValue`], its accessors, `--override-kv` parsing;
//! - `read.rs`: the parser, which trusts nothing in the file;
//! - `write.rs`: [`GgufWriter`];
//! - `error.rs`: [`GgufError`];
//! - here: [`GgufFile`], [`TensorInfo`] and the [`Weights`] impl the backends read through.
//!
//! GGUF v2 and v3, little-endian, are supported (they share one layout; v1 used 32-bit counts).
//! What must not live here: anything about a particular architecture's keys or tensors.

mod error;
mod read;
mod value;
mod write;

use std::collections::HashMap;
use std::fs::File;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use lingot_ir::exec::{WeightData, Weights};
use lingot_ir::DType;
use memmap2::Mmap;

pub use error::GgufError;
pub use value::{parse_override_kv, MetaValue};
pub use write::GgufWriter;

/// Where one tensor's data lies and how to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    pub dtype: DType,
    /// ggml order: `ne0`, the contiguous dimension, first.
    pub dims: Vec<u64>,
    /// `dims` reversed: outermost first, as the IR prints shapes.
    pub shape: Vec<usize>,
    /// Absolute byte offset of the data in the file.
    pub offset: u64,
    /// Bytes of data.
    pub size: u64,
}

/// The bytes of a file: memory-mapped, or owned (files parsed from memory, empty files).
enum Bytes {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// An open GGUF file: its header parsed and checked, its tensor data mapped, not read.
pub struct GgufFile {
    path: PathBuf,
    bytes: Bytes,
    version: u32,
    alignment: u64,
    data_offset: u64,
    metadata: Vec<(String, MetaValue)>,
    key_index: HashMap<String, usize>,
    tensors: Vec<TensorInfo>,
    tensor_index: HashMap<String, usize>,
}

impl GgufFile {
    /// Maps the file and parses its header; the tensor data is paged in only when read.
    pub fn open(path: &Path) -> Result<GgufFile, GgufError> {
        let io = |action, source| GgufError::Io {
            path: path.into(),
            action,
            source,
        };
        let file = File::open(path).map_err(|e| io("cannot open", e))?;
        let len = file.metadata().map_err(|e| io("cannot stat", e))?.len();
        let bytes = if len == 0 {
            Bytes::Owned(Vec::new())
        } else {
            // SAFETY: the map is read-only. As with every mmap-based loader (llama.cpp's too), a
            // file truncated or rewritten by another process while open is undefined behaviour;
            // model files are not expected to change under a running model.
            Bytes::Mapped(unsafe { Mmap::map(&file) }.map_err(|e| io("cannot map", e))?)
        };
        GgufFile::parse(path.into(), bytes)
    }

    /// Parses a GGUF image held in memory; `path` is only used to name it in errors.
    pub fn from_bytes(path: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<GgufFile, GgufError> {
        GgufFile::parse(path.into(), Bytes::Owned(bytes))
    }

    fn parse(path: PathBuf, bytes: Bytes) -> Result<GgufFile, GgufError> {
        let header = read::parse(&path, &bytes)?;
        let key_index = header
            .metadata
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (k.clone(), i))
            .collect();
        let tensor_index = header
            .tensors
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        Ok(GgufFile {
            path,
            bytes,
            version: header.version,
            alignment: header.alignment,
            data_offset: header.data_offset,
            metadata: header.metadata,
            key_index,
            tensors: header.tensors,
            tensor_index,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The GGUF version: 2 or 3.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// `general.alignment`, or ggml's default of 32.
    pub fn alignment(&self) -> u64 {
        self.alignment
    }

    /// Absolute byte offset of the data section (the header, rounded up to the alignment).
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// Length of the file in bytes.
    pub fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Every metadata entry in file order; overrides replace in place or come last.
    pub fn metadata(&self) -> &[(String, MetaValue)] {
        &self.metadata
    }

    pub fn get(&self, key: &str) -> Option<&MetaValue> {
        self.key_index.get(key).map(|&i| &self.metadata[i].1)
    }

    /// Replaces the value of `key`, or adds it (llama.cpp's `--override-kv`). It changes what
    /// [`get`](Self::get) returns, not the file or its layout.
    pub fn set_override(&mut self, key: &str, value: MetaValue) {
        match self.key_index.get(key) {
            Some(&i) => self.metadata[i].1 = value,
            None => {
                self.key_index.insert(key.to_string(), self.metadata.len());
                self.metadata.push((key.to_string(), value));
            }
        }
    }

    /// Every tensor in file order.
    pub fn tensors(&self) -> &[TensorInfo] {
        &self.tensors
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensor_index.get(name).map(|&i| &self.tensors[i])
    }

    /// The raw bytes of `t`. Every tensor of this file was checked to lie inside it; a
    /// `TensorInfo` from elsewhere that does not gets an empty slice.
    pub fn tensor_data(&self, t: &TensorInfo) -> &[u8] {
        let range = usize::try_from(t.offset)
            .ok()
            .and_then(|s| Some(s..s.checked_add(usize::try_from(t.size).ok()?)?));
        range.and_then(|r| self.bytes.get(r)).unwrap_or(&[])
    }
}

impl Weights for GgufFile {
    fn weight(&self, name: &str) -> Option<WeightData<'_>> {
        let t = self.tensor(name)?;
        Some(WeightData {
            dtype: t.dtype,
            shape: &t.shape,
            bytes: self.tensor_data(t),
        })
    }
}

impl std::fmt::Debug for GgufFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GgufFile")
            .field("path", &self.path)
            .field("version", &self.version)
            .field("alignment", &self.alignment)
            .field("metadata", &self.metadata.len())
            .field("tensors", &self.tensors.len())
            .finish()
    }
}
