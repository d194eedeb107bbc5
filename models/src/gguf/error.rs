//! What can go wrong reading or writing a GGUF file. Every error names the file and says where:
//! the byte offset, the metadata key or the tensor.

use std::path::PathBuf;

/// An error from [`GgufFile`](super::GgufFile) or [`GgufWriter`](super::GgufWriter).
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error("{path}: {action}: {source}", path = .path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },

    #[error("{path}: not a GGUF file: the first bytes are {found:02x?}, expected \"GGUF\"", path = .path.display())]
    BadMagic { path: PathBuf, found: Vec<u8> },

    #[error("{path}: unsupported GGUF version {version}: {why}", path = .path.display())]
    UnsupportedVersion {
        path: PathBuf,
        version: u32,
        why: &'static str,
    },

    /// The file ends before a field it declares.
    #[error("{path}: truncated at byte {offset}: {context}: {what} needs {needed} bytes but the file ends at byte {len}", path = .path.display())]
    Truncated {
        path: PathBuf,
        offset: u64,
        context: String,
        what: &'static str,
        needed: u64,
        len: u64,
    },

    /// A count or length read from the file that the rest of the file cannot possibly hold.
    #[error("{path}: byte {offset}: {context}: {what} {count} is absurd: the {left} bytes left in the file hold at most {max} (corrupt count or truncated file)", path = .path.display())]
    TooMany {
        path: PathBuf,
        offset: u64,
        context: String,
        what: &'static str,
        count: u64,
        left: u64,
        max: u64,
    },

    #[error("{path}: byte {offset}: {context}: {what} is not valid UTF-8", path = .path.display())]
    BadUtf8 {
        path: PathBuf,
        offset: u64,
        context: String,
        what: &'static str,
    },

    #[error("{path}: byte {offset}: {context}: {msg}", path = .path.display())]
    BadValue {
        path: PathBuf,
        offset: u64,
        context: String,
        msg: String,
    },

    #[error("{path}: byte {offset}: metadata key \"{key}\" appears twice", path = .path.display())]
    DuplicateKey { path: PathBuf, offset: u64, key: String },

    #[error("{path}: byte {offset}: tensor \"{name}\" appears twice", path = .path.display())]
    DuplicateTensor { path: PathBuf, offset: u64, name: String },

    #[error("{path}: general.alignment {found} is not a non-zero power of two (a u32)", path = .path.display())]
    BadAlignment { path: PathBuf, found: String },

    #[error("{path}: tensor \"{tensor}\" has unknown ggml type id {type_id}", path = .path.display())]
    UnknownTensorType {
        path: PathBuf,
        tensor: String,
        type_id: u32,
    },

    /// Dimensions that ggml cannot hold: too many, a row that is not whole blocks, sizes that overflow.
    #[error("{path}: tensor \"{tensor}\" dims {dims:?}: {msg}", path = .path.display())]
    BadDims {
        path: PathBuf,
        tensor: String,
        dims: Vec<u64>,
        msg: String,
    },

    /// A tensor offset that is misaligned or whose data lies (partly) outside the file.
    #[error("{path}: tensor \"{tensor}\": {msg}", path = .path.display())]
    BadOffset { path: PathBuf, tensor: String, msg: String },

    /// The writer was asked for something GGUF cannot express, or a tensor callback misbehaved.
    #[error("{path}: {msg}", path = .path.display())]
    Write { path: PathBuf, msg: String },
}
