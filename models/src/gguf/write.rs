//! [`GgufWriter`]: builds a GGUF v3 (or v2) file. Metadata and tensor infos are collected first;
//! tensor data is then streamed tensor by tensor from a callback, so a file of any size is written
//! without holding it in memory. The file appears at its path only once complete: it is written
//! to `PATH.tmp`, synced and renamed, and the `.tmp` is removed if anything fails.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use lingot_ir::DType;

use super::read::{align_up, layout, ALIGNMENT_KEY, DEFAULT_ALIGNMENT, MAGIC};
use super::value::type_id;
use super::{GgufError, MetaValue, TensorInfo};

/// Writes one GGUF file. `add_*` check what they are given; [`write`](Self::write) lays out
/// and streams the file.
#[derive(Debug)]
pub struct GgufWriter {
    path: PathBuf,
    version: u32,
    metadata: Vec<(String, MetaValue)>,
    keys: HashSet<String>,
    /// Offsets here are relative to the data section until `write` places them.
    tensors: Vec<TensorInfo>,
    names: HashSet<String>,
}

impl GgufWriter {
    /// A writer for a GGUF v3 file at `path`, alignment 32, nothing in it yet.
    pub fn new(path: &Path) -> GgufWriter {
        GgufWriter {
            path: path.into(),
            version: 3,
            metadata: Vec::new(),
            keys: HashSet::new(),
            tensors: Vec::new(),
            names: HashSet::new(),
        }
    }

    fn error(&self, msg: String) -> GgufError {
        GgufError::Write {
            path: self.path.clone(),
            msg,
        }
    }

    /// 2 or 3: the two share one layout and differ only in this number.
    pub fn set_version(&mut self, version: u32) -> Result<(), GgufError> {
        if !matches!(version, 2 | 3) {
            return Err(self.error(format!("cannot write GGUF version {version}: only 2 and 3")));
        }
        self.version = version;
        Ok(())
    }

    /// Sets (or replaces) `general.alignment`: tensor data then starts at multiples of `alignment`.
    pub fn set_alignment(&mut self, alignment: u32) -> Result<(), GgufError> {
        check_alignment(&self.path, &MetaValue::U32(alignment))?;
        match self.metadata.iter_mut().find(|(k, _)| k == ALIGNMENT_KEY) {
            Some((_, v)) => *v = MetaValue::U32(alignment),
            None => self.add_metadata(ALIGNMENT_KEY, MetaValue::U32(alignment))?,
        }
        Ok(())
    }

    /// The alignment the file will have.
    pub fn alignment(&self) -> u64 {
        match self.metadata.iter().find(|(k, _)| k == ALIGNMENT_KEY) {
            Some((_, MetaValue::U32(a))) => u64::from(*a),
            _ => DEFAULT_ALIGNMENT,
        }
    }

    /// Adds a metadata entry; keys are unique, an array's elements must share one type.
    pub fn add_metadata(&mut self, key: &str, value: MetaValue) -> Result<(), GgufError> {
        if self.keys.contains(key) {
            return Err(self.error(format!("metadata key \"{key}\" added twice")));
        }
        if key == ALIGNMENT_KEY {
            check_alignment(&self.path, &value)?;
        }
        check_homogeneous(&value).map_err(|msg| self.error(format!("metadata key \"{key}\": {msg}")))?;
        self.keys.insert(key.to_string());
        self.metadata.push((key.to_string(), value));
        Ok(())
    }

    /// Adds a tensor of `dtype` with ggml dims `dims` (`ne0` first); its data comes at `write`.
    pub fn add_tensor(&mut self, name: &str, dtype: DType, dims: &[u64]) -> Result<(), GgufError> {
        if self.names.contains(name) {
            return Err(self.error(format!("tensor \"{name}\" added twice")));
        }
        let (size, shape) = layout(dtype, dims).map_err(|msg| GgufError::BadDims {
            path: self.path.clone(),
            tensor: name.to_string(),
            dims: dims.to_vec(),
            msg,
        })?;
        self.names.insert(name.to_string());
        let info = TensorInfo {
            name: name.to_string(),
            dtype,
            dims: dims.to_vec(),
            shape,
            offset: 0,
            size,
        };
        self.tensors.push(info);
        Ok(())
    }

    /// Writes the file. `data` is called once per tensor, in the order they were added, with the
    /// tensor's final info (absolute `offset`) and a sink that must receive exactly `size` bytes.
    pub fn write<F>(mut self, mut data: F) -> Result<(), GgufError>
    where
        F: FnMut(&TensorInfo, &mut dyn Write) -> io::Result<()>,
    {
        let alignment = self.alignment();
        let overflow = || self.error("the file would be larger than 2^64 bytes".to_string());
        let mut rel = Vec::with_capacity(self.tensors.len());
        let mut next = 0u64;
        for t in &self.tensors {
            rel.push(next);
            next = next
                .checked_add(t.size)
                .and_then(|e| align_up(e, alignment))
                .ok_or_else(overflow)?;
        }
        let header = self.header(&rel);
        let data_offset = align_up(header.len() as u64, alignment).ok_or_else(overflow)?;
        for (t, r) in self.tensors.iter_mut().zip(rel) {
            t.offset = data_offset + r;
        }

        let mut tmp = self.path.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        let result = self.write_to(&tmp, &header, data_offset, &mut data);
        let result = result.and_then(|()| {
            std::fs::rename(&tmp, &self.path).map_err(|source| GgufError::Io {
                path: self.path.clone(),
                action: "cannot rename the finished .tmp file to",
                source,
            })
        });
        if result.is_err() {
            // Best effort: the error being returned matters more than one about cleaning up.
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    fn write_to<F>(&self, tmp: &Path, header: &[u8], data_offset: u64, data: &mut F) -> Result<(), GgufError>
    where
        F: FnMut(&TensorInfo, &mut dyn Write) -> io::Result<()>,
    {
        let io = |action, source| GgufError::Io {
            path: tmp.into(),
            action,
            source,
        };
        let file = File::create(tmp).map_err(|e| io("cannot create", e))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        out.write_all(header).map_err(|e| io("cannot write the header to", e))?;
        let mut pos = header.len() as u64;
        pad(&mut out, pos, data_offset).map_err(|e| io("cannot write to", e))?;
        pos = data_offset;
        for t in &self.tensors {
            let mut sink = Counting {
                inner: &mut out,
                written: 0,
            };
            data(t, &mut sink).map_err(|source| GgufError::Io {
                path: tmp.into(),
                action: "cannot write tensor data to",
                source: io::Error::new(source.kind(), format!("tensor \"{}\": {source}", t.name)),
            })?;
            if sink.written != t.size {
                return Err(self.error(format!(
                    "tensor \"{}\": {} bytes of data were written, its {} dims {:?} take {}",
                    t.name,
                    sink.written,
                    t.dtype.ggml_name(),
                    t.dims,
                    t.size
                )));
            }
            pos += t.size;
            let end = align_up(pos, self.alignment()).unwrap_or(pos);
            pad(&mut out, pos, end).map_err(|e| io("cannot write to", e))?;
            pos = end;
        }
        let file = out.into_inner().map_err(|e| io("cannot write to", e.into_error()))?;
        file.sync_all().map_err(|e| io("cannot sync", e))
    }

    /// Magic, version, counts, metadata and tensor infos (offsets relative to the data section).
    fn header(&self, rel: &[u64]) -> Vec<u8> {
        let mut h = Vec::new();
        h.extend_from_slice(MAGIC);
        h.extend_from_slice(&self.version.to_le_bytes());
        h.extend_from_slice(&(self.tensors.len() as u64).to_le_bytes());
        h.extend_from_slice(&(self.metadata.len() as u64).to_le_bytes());
        for (key, value) in &self.metadata {
            put_str(&mut h, key);
            h.extend_from_slice(&value.type_id().to_le_bytes());
            put_value(&mut h, value);
        }
        for (t, &offset) in self.tensors.iter().zip(rel) {
            put_str(&mut h, &t.name);
            h.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
            for d in &t.dims {
                h.extend_from_slice(&d.to_le_bytes());
            }
            h.extend_from_slice(&t.dtype.ggml_type().to_le_bytes());
            h.extend_from_slice(&offset.to_le_bytes());
        }
        h
    }
}

fn check_alignment(path: &Path, value: &MetaValue) -> Result<(), GgufError> {
    match value {
        MetaValue::U32(a) if a.is_power_of_two() => Ok(()),
        v => Err(GgufError::BadAlignment {
            path: path.into(),
            found: format!("{v} ({})", v.type_name()),
        }),
    }
}

/// GGUF arrays store one element type: every element of an array must have the same.
fn check_homogeneous(value: &MetaValue) -> Result<(), String> {
    let Some(items) = value.as_array() else { return Ok(()) };
    if let Some(first) = items.first() {
        if let Some(odd) = items.iter().find(|v| v.type_id() != first.type_id()) {
            return Err(format!("an array of {} holds a {}", first.type_name(), odd.type_name()));
        }
    }
    items.iter().try_for_each(check_homogeneous)
}

fn put_str(h: &mut Vec<u8>, s: &str) {
    h.extend_from_slice(&(s.len() as u64).to_le_bytes());
    h.extend_from_slice(s.as_bytes());
}

fn put_value(h: &mut Vec<u8>, value: &MetaValue) {
    match value {
        MetaValue::U8(v) => h.extend_from_slice(&v.to_le_bytes()),
        MetaValue::I8(v) => h.extend_from_slice(&v.to_le_bytes()),
        MetaValue::U16(v) => h.extend_from_slice(&v.to_le_bytes()),
        MetaValue::I16(v) => h.extend_from_slice(&v.to_le_bytes()),
        MetaValue::U32(v) => h.extend_from_slice(&v.to_le_bytes()),
        MetaValue::I32(v) => h.extend_from_slice(&v.to_le_bytes()),
        MetaValue::U64(v) => h.extend_from_slice(&v.to_le_bytes()),
        MetaValue::I64(v) => h.extend_from_slice(&v.to_le_bytes()),
        MetaValue::F32(v) => h.extend_from_slice(&v.to_le_bytes()),
        MetaValue::F64(v) => h.extend_from_slice(&v.to_le_bytes()),
        MetaValue::Bool(v) => h.push(u8::from(*v)),
        MetaValue::Str(s) => put_str(h, s),
        MetaValue::Array(items) => {
            // An empty array still needs an element type; which one does not matter to readers.
            let elem = items.first().map_or(type_id::U8, MetaValue::type_id);
            h.extend_from_slice(&elem.to_le_bytes());
            h.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for item in items {
                put_value(h, item);
            }
        }
    }
}

/// Writes zeros from `from` up to `to`.
fn pad(out: &mut impl Write, from: u64, to: u64) -> io::Result<()> {
    const ZEROS: [u8; 64] = [0; 64];
    let mut left = to.saturating_sub(from);
    while left > 0 {
        let n = left.min(ZEROS.len() as u64) as usize;
        out.write_all(&ZEROS[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// Counts the bytes a tensor callback writes.
struct Counting<'a, W: Write> {
    inner: &'a mut W,
    written: u64,
}

impl<W: Write> Write for Counting<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
