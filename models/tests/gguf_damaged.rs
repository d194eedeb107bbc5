//! A real file (tiny-Q4_0.gguf), damaged: cut short at every byte of its header and throughout
//! its data, and with single header fields overwritten. Each must give the specific error that
//! says what is wrong and where, never a panic and never a successful open.

mod common;

use common::reference_dir;

use std::path::{Path, PathBuf};

use lingot_models::gguf::{GgufError, GgufFile};

fn tiny() -> (PathBuf, Vec<u8>) {
    let path = reference_dir().join("tiny/tiny-Q4_0.gguf");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    (path, bytes)
}

fn parse(bytes: &[u8]) -> Result<GgufFile, GgufError> {
    GgufFile::from_bytes("damaged.gguf", bytes.to_vec())
}

fn expect_err(bytes: &[u8], what: &str) -> GgufError {
    match parse(bytes) {
        Ok(_) => panic!("{what}: the damaged file opened"),
        Err(e) => {
            assert!(
                e.to_string().starts_with("damaged.gguf: "),
                "{what}: the error does not name the file: {e}"
            );
            e
        }
    }
}

/// Where a tensor's info starts: its name, preceded by the name's u64 length.
fn tensor_info_at(bytes: &[u8], header_end: usize, name: &str) -> usize {
    let mut pattern = (name.len() as u64).to_le_bytes().to_vec();
    pattern.extend_from_slice(name.as_bytes());
    let at = bytes[..header_end]
        .windows(pattern.len())
        .rposition(|w| w == pattern)
        .expect("tensor name in the header");
    at + pattern.len()
}

/// Where a metadata key's value type lies (just after the key).
fn key_at(bytes: &[u8], key: &str) -> usize {
    let mut pattern = (key.len() as u64).to_le_bytes().to_vec();
    pattern.extend_from_slice(key.as_bytes());
    bytes
        .windows(pattern.len())
        .position(|w| w == pattern)
        .expect("key in the header")
        + pattern.len()
}

fn put_u32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(bytes: &mut [u8], at: usize, v: u64) {
    bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

#[test]
fn every_cut_in_the_header_is_reported_as_truncation_at_an_offset() {
    let (_, bytes) = tiny();
    let good = parse(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let data_offset = good.data_offset() as usize;
    let align = good.alignment() as usize;
    for cut in 0..data_offset {
        match expect_err(&bytes[..cut], &format!("cut at {cut}")) {
            GgufError::Truncated {
                offset, needed, len, ..
            } => {
                assert_eq!(len, cut as u64);
                assert!(
                    offset <= len && offset + needed > len,
                    "cut at {cut}: offset {offset} needed {needed}"
                );
            }
            // A count bigger than what is left cannot be told from a cut: the message says both.
            e @ GgufError::TooMany { .. } => assert!(e.to_string().contains("truncated file"), "{e}"),
            // Only the padding between the last tensor info and the data section is left.
            e @ GgufError::BadOffset { .. } => {
                assert!(cut + align > data_offset, "cut at {cut}: {e}");
                assert!(e.to_string().contains("truncated"), "{e}");
            }
            e => panic!("cut at {cut}: unexpected error {e}"),
        }
    }
    let msg = expect_err(&bytes[..data_offset - 100], "cut in the tensor infos").to_string();
    assert!(
        msg.contains("truncated at byte 34488: tensor \"output_norm.weight\": dimension needs 8 bytes"),
        "{msg}"
    );
}

#[test]
fn cuts_through_the_data_name_a_tensor_past_the_end() {
    let (_, bytes) = tiny();
    let good = parse(&bytes).unwrap_or_else(|e| panic!("{e}"));
    let end = good.tensors().iter().map(|t| t.offset + t.size).max().unwrap() as usize;
    let start = good.data_offset() as usize;
    let mut cuts: Vec<usize> = (0..400).map(|i| start + (end - start) * i / 400).collect();
    cuts.extend(good.tensors().iter().map(|t| (t.offset + t.size - 1) as usize));
    for cut in cuts {
        match expect_err(&bytes[..cut], &format!("cut at {cut}")) {
            GgufError::BadOffset { tensor, msg, .. } => {
                let t = good.tensor(&tensor).expect("the error names a real tensor");
                assert!(t.offset + t.size > cut as u64, "cut at {cut}: {tensor} fits");
                assert!(
                    msg.contains("truncated") && msg.contains(&format!("end of the file at byte {cut}")),
                    "{msg}"
                );
            }
            e => panic!("cut at {cut}: unexpected error {e}"),
        }
    }
}

#[test]
fn truncated_and_empty_files_on_disk() {
    let (_, bytes) = tiny();
    let dir = std::env::temp_dir().join(format!("lingot-gguf-damaged-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for cut in [0, 3, 24, 5000, 200_000] {
        let path = dir.join(format!("cut-{cut}.gguf"));
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let e = GgufFile::open(&path).expect_err("a truncated file opened");
        assert!(e.to_string().starts_with(&path.display().to_string()), "{e}");
        assert!(e.to_string().contains("truncated"), "{e}");
    }
    let missing = GgufFile::open(&dir.join("missing.gguf")).expect_err("a missing file opened");
    assert!(
        matches!(missing, GgufError::Io { .. }) && missing.to_string().contains("missing.gguf"),
        "{missing}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn magic_and_version() {
    let (_, bytes) = tiny();
    let mut b = bytes.clone();
    b[0] = b'X';
    assert!(matches!(expect_err(&b, "magic"), GgufError::BadMagic { found, .. } if found == b"XGUF"));
    assert!(matches!(expect_err(b"GGML", "ggml magic"), GgufError::BadMagic { .. }));
    for (version, says) in [
        (1u32, "v1"),
        (4, "v2 and v3"),
        (0, "v2 and v3"),
        (3u32.swap_bytes(), "big-endian"),
    ] {
        let mut b = bytes.clone();
        put_u32(&mut b, 4, version);
        let e = expect_err(&b, "version");
        assert!(
            matches!(e, GgufError::UnsupportedVersion { version: v, .. } if v == version),
            "{e}"
        );
        assert!(e.to_string().contains(says), "{e}");
    }
}

#[test]
fn absurd_counts_are_refused_before_allocating() {
    let (_, bytes) = tiny();
    for (at, what) in [(8, "tensor count"), (16, "metadata entry count")] {
        for count in [u64::MAX, 1 << 40, bytes.len() as u64] {
            let mut b = bytes.clone();
            put_u64(&mut b, at, count);
            match expect_err(&b, what) {
                GgufError::TooMany {
                    what: w,
                    count: c,
                    offset,
                    ..
                } => {
                    assert_eq!((w, c, offset), (what, count, at as u64));
                }
                e => panic!("{what} {count}: unexpected error {e}"),
            }
        }
    }
    // The token array's length.
    let mut b = bytes.clone();
    let at = key_at(&b, "tokenizer.ggml.tokens");
    assert_eq!(&b[at..at + 8], &[9, 0, 0, 0, 8, 0, 0, 0], "an array of strings");
    put_u64(&mut b, at + 8, 1 << 50);
    let e = expect_err(&b, "array length");
    assert!(
        matches!(&e, GgufError::TooMany { what: "array length", context, .. } if context.contains("tokenizer.ggml.tokens")),
        "{e}"
    );
    // A string length past the end is a truncation at that string.
    let mut b = bytes.clone();
    let at = key_at(&b, "general.name");
    put_u64(&mut b, at + 4, u64::MAX);
    let e = expect_err(&b, "string length");
    assert!(
        matches!(&e, GgufError::Truncated { context, .. } if context.contains("general.name")),
        "{e}"
    );
}

#[test]
fn bad_metadata_values() {
    let (_, bytes) = tiny();
    let mut b = bytes.clone();
    let at = key_at(&b, "general.architecture");
    put_u32(&mut b, at, 13);
    let e = expect_err(&b, "value type");
    assert!(
        matches!(&e, GgufError::BadValue { offset, msg, .. } if *offset == at as u64 && msg.contains("type id 13")),
        "{e}"
    );

    let mut b = bytes.clone();
    let at = key_at(&b, "general.architecture");
    b[at - 3] = 0xff; // inside the key
    let e = expect_err(&b, "utf-8");
    assert!(matches!(&e, GgufError::BadUtf8 { what: "key", .. }), "{e}");

    let mut b = bytes.clone();
    let at = key_at(&b, "tokenizer.ggml.add_bos_token");
    assert_eq!(&b[at..at + 5], &[7, 0, 0, 0, 0]);
    b[at + 4] = 2;
    let e = expect_err(&b, "bool");
    assert!(
        matches!(&e, GgufError::BadValue { msg, .. } if msg.contains("bool value 2")),
        "{e}"
    );

    // Two keys of one length made equal.
    let mut b = bytes.clone();
    let at = key_at(&b, "tokenizer.ggml.eos_token_id") - "eos_token_id".len();
    b[at..at + 3].copy_from_slice(b"bos");
    let e = expect_err(&b, "duplicate key");
    assert!(
        matches!(&e, GgufError::DuplicateKey { key, .. } if key == "tokenizer.ggml.bos_token_id"),
        "{e}"
    );
}

#[test]
fn bad_tensor_infos() {
    let (path, bytes) = tiny();
    let good = parse(&bytes).unwrap();
    let header_end = good.data_offset() as usize;
    let info = |name: &str| tensor_info_at(&bytes, header_end, name);
    let check = |b: Vec<u8>, what: &str, ok: &dyn Fn(&GgufError) -> bool| {
        let e = expect_err(&b, what);
        assert!(ok(&e), "{what}: {e}");
    };

    // output_norm.weight: 1 dim {64}, F32. Layout after the name: n_dims, dims, type, offset.
    let at = info("output_norm.weight");
    assert_eq!(&bytes[at..at + 12], &[1, 0, 0, 0, 64, 0, 0, 0, 0, 0, 0, 0]);
    let mut b = bytes.clone();
    put_u32(&mut b, at + 12, 99);
    check(
        b,
        "type id",
        &|e| matches!(e, GgufError::UnknownTensorType { tensor, type_id: 99, .. } if tensor == "output_norm.weight"),
    );
    let mut b = bytes.clone();
    put_u32(&mut b, at + 12, 12); // Q4_K: 64 is not a multiple of 256
    check(
        b,
        "block size",
        &|e| matches!(e, GgufError::BadDims { msg, .. } if msg.contains("multiple of the Q4_K block size 256")),
    );
    let mut b = bytes.clone();
    put_u32(&mut b, at, 5);
    check(
        b,
        "n_dims",
        &|e| matches!(e, GgufError::BadDims { msg, .. } if msg.contains("at most 4")),
    );
    let mut b = bytes.clone();
    put_u64(&mut b, at + 4, u64::MAX);
    check(
        b,
        "int64 dim",
        &|e| matches!(e, GgufError::BadDims { msg, .. } if msg.contains("int64")),
    );
    let mut b = bytes.clone();
    put_u64(&mut b, at + 16, 1 << 62);
    check(
        b,
        "offset past the end",
        &|e| matches!(e, GgufError::BadOffset { tensor, msg, .. } if tensor == "output_norm.weight" && msg.contains("past the end")),
    );
    let mut b = bytes.clone();
    put_u64(&mut b, at + 16, u64::MAX - 31);
    check(
        b,
        "offset overflow",
        &|e| matches!(e, GgufError::BadOffset { msg, .. } if msg.contains("overflow")),
    );
    let mut b = bytes.clone();
    let off = u64::from_le_bytes(bytes[at + 16..at + 24].try_into().unwrap());
    put_u64(&mut b, at + 16, off + 4);
    check(
        b,
        "misaligned",
        &|e| matches!(e, GgufError::BadOffset { msg, .. } if msg.contains("not a multiple of the alignment 32")),
    );

    // token_embd.weight: 2 dims {64, 1024}, Q4_0. Dims whose product overflows.
    let at = info("token_embd.weight");
    assert_eq!(&bytes[at..at + 4], &[2, 0, 0, 0]);
    let mut b = bytes.clone();
    put_u64(&mut b, at + 4, 1 << 40);
    put_u64(&mut b, at + 12, 1 << 40);
    check(
        b,
        "element overflow",
        &|e| matches!(e, GgufError::BadDims { tensor, msg, .. } if tensor == "token_embd.weight" && msg.contains("overflow")),
    );
    // Dims that fit int64 and elements but not the file.
    let mut b = bytes.clone();
    put_u64(&mut b, at + 12, 1 << 30);
    check(
        b,
        "huge tensor",
        &|e| matches!(e, GgufError::BadOffset { tensor, .. } if tensor == "token_embd.weight"),
    );

    // blk.0.attn_norm.weight renamed to blk.1.attn_norm.weight, which comes later.
    let mut b = bytes.clone();
    let at = info("blk.0.attn_norm.weight") - "attn_norm.weight".len() - 2;
    b[at] = b'1';
    check(
        b,
        "duplicate tensor",
        &|e| matches!(e, GgufError::DuplicateTensor { name, .. } if name == "blk.1.attn_norm.weight"),
    );

    // The file itself is still fine, and errors name it.
    let e = GgufFile::open(Path::new(&path)).map(|g| g.tensors().len());
    assert_eq!(e.unwrap(), good.tensors().len());
}
