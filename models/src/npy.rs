//! NumPy `.npy` files: read little-endian C-order float32 and int32 arrays (format versions 1, 2
//! and 3), write float32 ones. This is how reference logits and dequantized samples come in and
//! how `lingot` dumps tensors for comparison. Anything else (other dtypes, Fortran order,
//! big-endian, object arrays) is an error that names the file and what it holds.

use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 6] = b"\x93NUMPY";

#[derive(Debug, thiserror::Error)]
pub enum NpyError {
    #[error("{path}: {action}: {source}", path = .path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },
    #[error("{path}: not a .npy file: {msg}", path = .path.display())]
    Format { path: PathBuf, msg: String },
    #[error("{path}: holds {found}; expected {expected}", path = .path.display())]
    Unsupported {
        path: PathBuf,
        found: String,
        expected: &'static str,
    },
}

/// The parsed header: element type descriptor (`<f4`), shape, and where the data starts.
struct Header {
    descr: String,
    shape: Vec<usize>,
    data_start: usize,
}

/// Reads a float32 array: its shape (outermost first) and elements in C order.
pub fn read_f32(path: &Path) -> Result<(Vec<usize>, Vec<f32>), NpyError> {
    let bytes = read_file(path)?;
    parse_f32(path, &bytes)
}

/// Reads an int32 array: its shape (outermost first) and elements in C order.
pub fn read_i32(path: &Path) -> Result<(Vec<usize>, Vec<i32>), NpyError> {
    let bytes = read_file(path)?;
    parse_i32(path, &bytes)
}

/// [`read_f32`] on bytes in memory; `path` names them in errors.
pub fn parse_f32(path: &Path, bytes: &[u8]) -> Result<(Vec<usize>, Vec<f32>), NpyError> {
    parse_words(path, bytes, "<f4", "float32 (<f4)", f32::from_le_bytes)
}

/// [`read_i32`] on bytes in memory; `path` names them in errors.
pub fn parse_i32(path: &Path, bytes: &[u8]) -> Result<(Vec<usize>, Vec<i32>), NpyError> {
    parse_words(path, bytes, "<i4", "int32 (<i4)", i32::from_le_bytes)
}

/// Writes a float32 array in format version 1 (version 2 if the header needs it), atomically:
/// to `PATH.tmp`, then renamed.
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<(), NpyError> {
    let format = |msg: String| NpyError::Format { path: path.into(), msg };
    let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if count != Some(data.len()) {
        return Err(format(format!(
            "shape {shape:?} does not hold the {} elements given",
            data.len()
        )));
    }
    let mut bytes = header_bytes(shape);
    bytes.reserve(data.len() * 4);
    for x in data {
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let io = |action, source| NpyError::Io {
        path: tmp.clone(),
        action,
        source,
    };
    let result = std::fs::File::create(&tmp)
        .map_err(|e| io("cannot create", e))
        .and_then(|mut f| {
            f.write_all(&bytes)
                .and_then(|()| f.sync_all())
                .map_err(|e| io("cannot write", e))
        })
        .and_then(|()| {
            std::fs::rename(&tmp, path).map_err(|source| NpyError::Io {
                path: path.into(),
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

/// The header of a little-endian float32 C-order array, padded to a multiple of 64 bytes.
fn header_bytes(shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let tuple = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {tuple}, }}");
    // Version 1 has a u16 header length; longer headers (shapes of thousands of dims) need v2.
    let (version, prefix) = if dict.len() + 1 + 10 <= u16::MAX as usize {
        (1u8, 10)
    } else {
        (2u8, 12)
    };
    let total = (prefix + dict.len() + 1).div_ceil(64) * 64;
    dict.push_str(&" ".repeat(total - prefix - dict.len() - 1));
    dict.push('\n');
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[version, 0]);
    match version {
        1 => out.extend_from_slice(&(dict.len() as u16).to_le_bytes()),
        _ => out.extend_from_slice(&(dict.len() as u32).to_le_bytes()),
    }
    out.extend_from_slice(dict.as_bytes());
    out
}

fn read_file(path: &Path) -> Result<Vec<u8>, NpyError> {
    std::fs::read(path).map_err(|source| NpyError::Io {
        path: path.into(),
        action: "cannot read",
        source,
    })
}

/// Checks the header describes `descr` in C order; returns the shape and the 4-byte elements,
/// each decoded by `decode`.
fn parse_words<T>(
    path: &Path,
    bytes: &[u8],
    descr: &str,
    expected: &'static str,
    decode: fn([u8; 4]) -> T,
) -> Result<(Vec<usize>, Vec<T>), NpyError> {
    let header = parse_header(path, bytes)?;
    if header.descr != descr {
        return Err(NpyError::Unsupported {
            path: path.into(),
            found: format!("dtype '{}'", header.descr),
            expected,
        });
    }
    let format = |msg: String| NpyError::Format { path: path.into(), msg };
    let count = header.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let want = count
        .and_then(|c| c.checked_mul(4))
        .ok_or_else(|| format(format!("shape {:?} overflows", header.shape)))?;
    let data = &bytes[header.data_start..];
    if data.len() != want {
        return Err(format(format!(
            "shape {:?} needs {want} bytes of data after the header at byte {}, the file has {}",
            header.shape,
            header.data_start,
            data.len()
        )));
    }
    let words = data.chunks_exact(4).map(|c| decode([c[0], c[1], c[2], c[3]])).collect();
    Ok((header.shape, words))
}

fn parse_header(path: &Path, bytes: &[u8]) -> Result<Header, NpyError> {
    let format = |msg: String| NpyError::Format { path: path.into(), msg };
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(format("it does not start with \\x93NUMPY".to_string()));
    }
    let (len, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        2 | 3 => {
            return Err(format(format!(
                "the file ends at byte {} inside the header",
                bytes.len()
            )))
        }
        v => return Err(format(format!("format version {v}.{} is not 1, 2 or 3", bytes[7]))),
    };
    let end = start.checked_add(len).filter(|&e| e <= bytes.len());
    let end = end.ok_or_else(|| {
        format(format!(
            "the header claims {len} bytes; the file ends at byte {}",
            bytes.len()
        ))
    })?;
    // v1 and v2 headers are latin-1 and v3 UTF-8; every header numpy writes is ASCII.
    let text = std::str::from_utf8(&bytes[start..end]).map_err(|_| format("the header is not text".to_string()))?;
    let dict = parse_dict(text).map_err(|msg| format(format!("header {text:?}: {msg}")))?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    for (key, value) in dict {
        match (key.as_str(), value) {
            ("descr", Literal::Str(s)) => descr = Some(s),
            ("fortran_order", Literal::Bool(b)) => fortran = Some(b),
            ("shape", Literal::Tuple(dims)) => shape = Some(dims),
            (k, v) => return Err(format(format!("header key '{k}' has an unexpected value {v:?}"))),
        }
    }
    let (Some(descr), Some(fortran), Some(shape)) = (descr, fortran, shape) else {
        return Err(format(format!("header {text:?} lacks descr, fortran_order or shape")));
    };
    if fortran {
        return Err(NpyError::Unsupported {
            path: path.into(),
            found: "a Fortran-order array".into(),
            expected: "C order",
        });
    }
    Ok(Header {
        descr,
        shape,
        data_start: end,
    })
}

/// The few Python literals a .npy header holds.
#[derive(Debug)]
enum Literal {
    Str(String),
    Bool(bool),
    Tuple(Vec<usize>),
}

/// Parses `{'key': literal, ...}` where a literal is a quoted string, True/False or a tuple of ints.
fn parse_dict(text: &str) -> Result<Vec<(String, Literal)>, String> {
    let mut s = text.trim();
    s = s.strip_prefix('{').ok_or("expected '{'")?;
    let mut out = Vec::new();
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix('}') {
            return if rest.trim().is_empty() {
                Ok(out)
            } else {
                Err("text after '}'".into())
            };
        }
        let (key, rest) = quoted(s)?;
        s = rest.trim_start().strip_prefix(':').ok_or("expected ':'")?.trim_start();
        let (value, rest) = literal(s)?;
        out.push((key, value));
        s = rest.trim_start();
        if let Some(rest) = s.strip_prefix(',') {
            s = rest;
        } else if !s.starts_with('}') {
            return Err("expected ',' or '}'".into());
        }
    }
}

fn quoted(s: &str) -> Result<(String, &str), String> {
    let q = s
        .chars()
        .next()
        .filter(|&c| c == '\'' || c == '"')
        .ok_or("expected a quoted string")?;
    let body = &s[1..];
    let end = body.find(q).ok_or("unterminated string")?;
    Ok((body[..end].to_string(), &body[end + 1..]))
}

fn literal(s: &str) -> Result<(Literal, &str), String> {
    if let Some(rest) = s.strip_prefix("True") {
        return Ok((Literal::Bool(true), rest));
    }
    if let Some(rest) = s.strip_prefix("False") {
        return Ok((Literal::Bool(false), rest));
    }
    if let Some(rest) = s.strip_prefix('(') {
        let end = rest.find(')').ok_or("unterminated tuple")?;
        let dims = rest[..end]
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| {
                d.trim_end_matches('L')
                    .parse::<usize>()
                    .map_err(|_| format!("bad dimension \"{d}\""))
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok((Literal::Tuple(dims), &rest[end + 1..]));
    }
    let (text, rest) = quoted(s)?;
    Ok((Literal::Str(text), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_padded_to_64_bytes() {
        for shape in [&[][..], &[3], &[48, 1024], &[1, 2, 3, 4, 5]] {
            let h = header_bytes(shape);
            assert_eq!(h.len() % 64, 0, "{shape:?}");
            assert_eq!(h.last(), Some(&b'\n'));
            let parsed = parse_header(Path::new("x.npy"), &h).unwrap();
            assert_eq!((parsed.descr.as_str(), parsed.shape.as_slice()), ("<f4", shape));
        }
    }

    #[test]
    fn dict_parser_rejects_garbage() {
        for bad in [
            "",
            "{",
            "{'a' 1}",
            "{'descr': }",
            "{'shape': (1,2}",
            "{'x': 'y'} z",
            "{'shape': (a,)}",
        ] {
            assert!(parse_dict(bad).is_err(), "{bad}");
        }
    }
}
