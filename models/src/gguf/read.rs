//! The GGUF parser: bytes in, header out (version, metadata, tensor infos, data section start).
//!
//! It trusts nothing it reads. Every count is bounded by the bytes left before anything is
//! allocated for it, every size is computed with checked arithmetic, every tensor must lie inside
//! the file, and each error says where (byte offset, key or tensor name). It never panics.

use std::collections::HashSet;
use std::path::Path;

use lingot_ir::DType;

use super::value::type_id;
use super::{GgufError, MetaValue, TensorInfo};

/// What a header holds once parsed and checked.
pub(super) struct Header {
    pub version: u32,
    pub alignment: u64,
    pub metadata: Vec<(String, MetaValue)>,
    pub tensors: Vec<TensorInfo>,
    pub data_offset: u64,
}

pub(super) const MAGIC: &[u8; 4] = b"GGUF";
pub(super) const DEFAULT_ALIGNMENT: u64 = 32;
pub(super) const ALIGNMENT_KEY: &str = "general.alignment";
/// ggml's `GGML_MAX_DIMS`.
pub(super) const MAX_DIMS: u32 = 4;
/// Where the tensor count lives: after the magic and the version.
const TENSOR_COUNT_OFFSET: usize = 8;
/// Nested arrays deeper than this are refused, so a crafted file cannot exhaust the stack.
const MAX_ARRAY_DEPTH: usize = 8;
/// The fewest bytes a metadata entry takes: empty key (8), value type (4), a one-byte value.
const MIN_KV_BYTES: u64 = 13;
/// The fewest bytes a tensor info takes: empty name (8), dim count (4), type (4), offset (8).
const MIN_TENSOR_INFO_BYTES: u64 = 24;

pub(super) fn parse(path: &Path, buf: &[u8]) -> Result<Header, GgufError> {
    let mut p = Parser {
        path,
        buf,
        pos: 0,
        context: "header".to_string(),
    };
    let version = p.magic_and_version()?;

    let tensor_count = p.count("tensor count", MIN_TENSOR_INFO_BYTES)?;
    let kv_count = p.count("metadata entry count", MIN_KV_BYTES)?;

    let mut metadata = Vec::with_capacity(kv_count);
    let mut keys = HashSet::with_capacity(kv_count);
    for i in 0..kv_count {
        let at = p.pos;
        p.context = format!("metadata entry {i}");
        let key = p.string("key")?;
        if !keys.insert(key.clone()) {
            return Err(GgufError::DuplicateKey {
                path: path.into(),
                offset: at as u64,
                key,
            });
        }
        p.context = format!("metadata key \"{key}\"");
        let ty_at = p.pos;
        let ty = p.u32("value type")?;
        if min_value_bytes(ty).is_none() {
            return Err(p.bad_value(ty_at, format!("unknown value type id {ty}")));
        }
        let value = p.value(ty, 0)?;
        metadata.push((key, value));
    }
    let alignment = alignment(path, &metadata)?;

    // Re-check against what is left now that the metadata is read.
    if (tensor_count as u64) > p.left() / MIN_TENSOR_INFO_BYTES {
        p.context = "header (checked after the metadata)".to_string();
        return Err(p.too_many(
            TENSOR_COUNT_OFFSET,
            "tensor count",
            tensor_count as u64,
            MIN_TENSOR_INFO_BYTES,
        ));
    }
    let mut tensors = Vec::with_capacity(tensor_count);
    let mut names = HashSet::with_capacity(tensor_count);
    for i in 0..tensor_count {
        let at = p.pos;
        p.context = format!("tensor info {i}");
        let name = p.string("tensor name")?;
        if !names.insert(name.clone()) {
            return Err(GgufError::DuplicateTensor {
                path: path.into(),
                offset: at as u64,
                name,
            });
        }
        p.context = format!("tensor \"{name}\"");
        tensors.push(p.tensor_info(name)?);
    }

    let data_offset = align_up(p.pos as u64, alignment).ok_or_else(|| GgufError::BadAlignment {
        path: path.into(),
        found: format!("{alignment} (the data section start overflows)"),
    })?;
    for t in &mut tensors {
        place(path, t, data_offset, alignment, buf.len() as u64)?;
    }
    Ok(Header {
        version,
        alignment,
        metadata,
        tensors,
        data_offset,
    })
}

/// `general.alignment` if present (a u32 power of two), else ggml's default of 32.
fn alignment(path: &Path, metadata: &[(String, MetaValue)]) -> Result<u64, GgufError> {
    match metadata.iter().find(|(k, _)| k == ALIGNMENT_KEY) {
        None => Ok(DEFAULT_ALIGNMENT),
        Some((_, MetaValue::U32(a))) if a.is_power_of_two() => Ok(u64::from(*a)),
        Some((_, v)) => Err(GgufError::BadAlignment {
            path: path.into(),
            found: format!("{v} ({})", v.type_name()),
        }),
    }
}

/// Rounds `x` up to a multiple of `align` (a power of two); `None` on overflow.
pub(super) fn align_up(x: u64, align: u64) -> Option<u64> {
    Some(x.checked_add(align - 1)? & !(align - 1))
}

/// Byte size and IR shape of a tensor of `dtype` with ggml dims `dims`, or why there is none.
pub(super) fn layout(dtype: DType, dims: &[u64]) -> Result<(u64, Vec<usize>), String> {
    if dims.len() > MAX_DIMS as usize {
        return Err(format!("{} dimensions; ggml allows at most {MAX_DIMS}", dims.len()));
    }
    if let Some(d) = dims.iter().find(|&&d| d > i64::MAX as u64) {
        return Err(format!("dimension {d} does not fit ggml's int64"));
    }
    let ne0 = dims.first().copied().unwrap_or(1);
    let block = dtype.block_elems() as u64;
    if ne0 % block != 0 {
        return Err(format!(
            "ne0 = {ne0} is not a multiple of the {} block size {block}",
            dtype.ggml_name()
        ));
    }
    let elements = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d).filter(|&n| n <= i64::MAX as u64));
    if elements.is_none() {
        return Err("the element count overflows".to_string());
    }
    let size = dtype
        .row_bytes(ne0)
        .and_then(|row| dims.iter().skip(1).try_fold(row, |acc, &d| acc.checked_mul(d)))
        .ok_or("the byte size overflows")?;
    let shape = dims
        .iter()
        .rev()
        .map(|&d| usize::try_from(d))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "a dimension does not fit usize on this machine".to_string())?;
    Ok((size, shape))
}

/// Turns a tensor's offset (relative to the data section) into an absolute one inside the file.
fn place(path: &Path, t: &mut TensorInfo, data_offset: u64, alignment: u64, len: u64) -> Result<(), GgufError> {
    let bad = |msg: String| GgufError::BadOffset {
        path: path.into(),
        tensor: t.name.clone(),
        msg,
    };
    let rel = t.offset;
    if !rel.is_multiple_of(alignment) {
        return Err(bad(format!(
            "data offset {rel} is not a multiple of the alignment {alignment}"
        )));
    }
    let start = data_offset.checked_add(rel);
    let end = start.and_then(|s| s.checked_add(t.size));
    match (start, end) {
        (Some(start), Some(end)) if end <= len => {
            t.offset = start;
            Ok(())
        }
        _ => Err(bad(format!(
            "{} bytes at data offset {rel} (byte {}) run past the end of the file at byte {len}: truncated file or bad offset",
            t.size,
            start.map_or("overflow".to_string(), |s| s.to_string())
        ))),
    }
}

struct Parser<'a> {
    path: &'a Path,
    buf: &'a [u8],
    pos: usize,
    /// What is being read, for error messages: `header`, `metadata key "x"`, `tensor "y"`.
    context: String,
}

impl<'a> Parser<'a> {
    fn left(&self) -> u64 {
        (self.buf.len() - self.pos) as u64
    }

    fn take(&mut self, n: u64, what: &'static str) -> Result<&'a [u8], GgufError> {
        if n > self.left() {
            return Err(GgufError::Truncated {
                path: self.path.into(),
                offset: self.pos as u64,
                context: self.context.clone(),
                what,
                needed: n,
                len: self.buf.len() as u64,
            });
        }
        let bytes = &self.buf[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(bytes)
    }

    fn bytes<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], GgufError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64, what)?);
        Ok(out)
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, GgufError> {
        self.bytes(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, GgufError> {
        self.bytes(what).map(u64::from_le_bytes)
    }

    /// `count` items of `min_each` bytes cannot fit in what is left after the current position.
    fn too_many(&self, at: usize, what: &'static str, count: u64, min_each: u64) -> GgufError {
        let left = self.left();
        GgufError::TooMany {
            path: self.path.into(),
            offset: at as u64,
            context: self.context.clone(),
            what,
            count,
            left,
            max: left / min_each,
        }
    }

    /// A u64 count of items of at least `min_each` bytes, checked against the bytes left.
    fn count(&mut self, what: &'static str, min_each: u64) -> Result<usize, GgufError> {
        let at = self.pos;
        let n = self.u64(what)?;
        if n > self.left() / min_each {
            return Err(self.too_many(at, what, n, min_each));
        }
        // n <= bytes left in a buffer we hold, so it fits usize.
        Ok(n as usize)
    }

    fn string(&mut self, what: &'static str) -> Result<String, GgufError> {
        let len = self.u64("string length")?;
        let at = self.pos;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| GgufError::BadUtf8 {
            path: self.path.into(),
            offset: at as u64,
            context: self.context.clone(),
            what,
        })
    }

    fn bad_value(&self, at: usize, msg: String) -> GgufError {
        GgufError::BadValue {
            path: self.path.into(),
            offset: at as u64,
            context: self.context.clone(),
            msg,
        }
    }

    fn magic_and_version(&mut self) -> Result<u32, GgufError> {
        let head = &self.buf[..self.buf.len().min(4)];
        if head != &MAGIC[..head.len()] {
            return Err(GgufError::BadMagic {
                path: self.path.into(),
                found: head.to_vec(),
            });
        }
        self.take(4, "magic")?;
        let version = self.u32("version")?;
        let why = match version {
            2 | 3 => return Ok(version),
            1 => "GGUF v1 (32-bit counts) is not supported; re-convert the model with a current llama.cpp",
            v if matches!(v.swap_bytes(), 1..=3) => "this is a big-endian GGUF; lingot reads little-endian files only",
            _ => "lingot reads GGUF v2 and v3",
        };
        Err(GgufError::UnsupportedVersion {
            path: self.path.into(),
            version,
            why,
        })
    }

    fn value(&mut self, ty: u32, depth: usize) -> Result<MetaValue, GgufError> {
        let at = self.pos;
        Ok(match ty {
            type_id::U8 => MetaValue::U8(u8::from_le_bytes(self.bytes("u8 value")?)),
            type_id::I8 => MetaValue::I8(i8::from_le_bytes(self.bytes("i8 value")?)),
            type_id::U16 => MetaValue::U16(u16::from_le_bytes(self.bytes("u16 value")?)),
            type_id::I16 => MetaValue::I16(i16::from_le_bytes(self.bytes("i16 value")?)),
            type_id::U32 => MetaValue::U32(u32::from_le_bytes(self.bytes("u32 value")?)),
            type_id::I32 => MetaValue::I32(i32::from_le_bytes(self.bytes("i32 value")?)),
            type_id::U64 => MetaValue::U64(u64::from_le_bytes(self.bytes("u64 value")?)),
            type_id::I64 => MetaValue::I64(i64::from_le_bytes(self.bytes("i64 value")?)),
            type_id::F32 => MetaValue::F32(f32::from_le_bytes(self.bytes("f32 value")?)),
            type_id::F64 => MetaValue::F64(f64::from_le_bytes(self.bytes("f64 value")?)),
            type_id::BOOL => match self.bytes::<1>("bool value")?[0] {
                0 => MetaValue::Bool(false),
                1 => MetaValue::Bool(true),
                b => return Err(self.bad_value(at, format!("bool value {b} is neither 0 nor 1"))),
            },
            type_id::STR => MetaValue::Str(self.string("string")?),
            type_id::ARRAY => self.array(depth)?,
            // Callers check the type id first (at its own offset); this is the backstop.
            other => return Err(self.bad_value(at, format!("unknown value type id {other}"))),
        })
    }

    fn array(&mut self, depth: usize) -> Result<MetaValue, GgufError> {
        let at = self.pos;
        if depth >= MAX_ARRAY_DEPTH {
            return Err(self.bad_value(at, format!("arrays nested deeper than {MAX_ARRAY_DEPTH}")));
        }
        let elem = self.u32("array element type")?;
        let Some(min_each) = min_value_bytes(elem) else {
            return Err(self.bad_value(at, format!("unknown array element type id {elem}")));
        };
        let n = self.count("array length", min_each)?;
        let mut items = Vec::with_capacity(n);
        for _ in 0..n {
            items.push(self.value(elem, depth + 1)?);
        }
        Ok(MetaValue::Array(items))
    }

    /// Reads one tensor info and checks its type and dims; its offset stays relative.
    fn tensor_info(&mut self, name: String) -> Result<TensorInfo, GgufError> {
        let n_dims = self.u32("dimension count")?;
        if n_dims > MAX_DIMS {
            let msg = format!("{n_dims} dimensions; ggml allows at most {MAX_DIMS}");
            return Err(GgufError::BadDims {
                path: self.path.into(),
                tensor: name,
                dims: vec![],
                msg,
            });
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        for _ in 0..n_dims {
            dims.push(self.u64("dimension")?);
        }
        let type_id = self.u32("tensor type")?;
        let offset = self.u64("data offset")?;
        let Some(dtype) = DType::from_ggml_type(type_id) else {
            return Err(GgufError::UnknownTensorType {
                path: self.path.into(),
                tensor: name,
                type_id,
            });
        };
        let (size, shape) = layout(dtype, &dims).map_err(|msg| GgufError::BadDims {
            path: self.path.into(),
            tensor: name.clone(),
            dims: dims.clone(),
            msg,
        })?;
        Ok(TensorInfo {
            name,
            dtype,
            dims,
            shape,
            offset,
            size,
        })
    }
}

/// The fewest bytes one value of type `ty` takes, or `None` for an unknown type.
fn min_value_bytes(ty: u32) -> Option<u64> {
    match ty {
        type_id::U8 | type_id::I8 | type_id::BOOL => Some(1),
        type_id::U16 | type_id::I16 => Some(2),
        type_id::U32 | type_id::I32 | type_id::F32 => Some(4),
        type_id::U64 | type_id::I64 | type_id::F64 | type_id::STR => Some(8),
        type_id::ARRAY => Some(12),
        _ => None,
    }
}
