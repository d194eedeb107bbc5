//! GgufWriter round trips: every metadata type (nested arrays included), v2 and v3, several
//! alignments, tensors of plain and quantized types streamed in odd-sized pieces; and failures
//! that must leave no file (or the old one) at the path.

use std::io::Write;
use std::path::PathBuf;

use lingot_ir::DType;
use lingot_models::gguf::{GgufError, GgufFile, GgufWriter, MetaValue, TensorInfo};

/// A fresh temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("lingot-gguf-writer-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn every_type() -> Vec<(String, MetaValue)> {
    use MetaValue::*;
    let v = vec![
        ("u8", U8(255)),
        ("i8", I8(-128)),
        ("u16", U16(65535)),
        ("i16", I16(-32768)),
        ("u32", U32(u32::MAX)),
        ("i32", I32(i32::MIN)),
        ("u64", U64(u64::MAX)),
        ("i64", I64(i64::MIN)),
        ("f32", F32(-1.5e-7)),
        ("f64", F64(std::f64::consts::PI)),
        ("bool.t", Bool(true)),
        ("bool.f", Bool(false)),
        ("str", Str("Ünïcode ✓ and \"quotes\"".into())),
        ("str.empty", Str(String::new())),
        ("arr.f32", Array(vec![F32(1.0), F32(f32::MIN_POSITIVE), F32(-0.0)])),
        ("arr.bool", Array(vec![Bool(true), Bool(false)])),
        (
            "arr.str",
            Array(vec![Str("a".into()), Str(String::new()), Str("ĠĊ".into())]),
        ),
        ("arr.i64", Array((0..100).map(|i| I64(i * -7)).collect())),
        ("arr.empty", Array(vec![])),
        (
            "arr.nested",
            Array(vec![
                Array(vec![U8(1), U8(2)]),
                Array(vec![Str("x".into())]),
                Array(vec![Array(vec![F64(2.0)])]),
            ]),
        ),
    ];
    v.into_iter().map(|(k, v)| (format!("test.{k}"), v)).collect()
}

fn tensors() -> Vec<(&'static str, DType, Vec<u64>)> {
    vec![
        ("a.f32", DType::F32, vec![5, 3]),
        ("b.f16", DType::F16, vec![7]),
        ("c.q8_0", DType::Q8_0, vec![64, 2]),
        ("d.q4_k", DType::Q4K, vec![256, 1, 3]),
        ("e.i32", DType::I32, vec![1]),
        ("f.bf16", DType::BF16, vec![3, 1, 1, 2]),
        ("g.q6_k", DType::Q6K, vec![512, 2]),
        ("h.empty", DType::F32, vec![0, 4]),
    ]
}

/// Deterministic bytes for tensor `name` (an xorshift stream seeded by the name).
fn payload(name: &str, len: u64) -> Vec<u8> {
    let mut s = name
        .bytes()
        .fold(0x9e3779b97f4a7c15u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s as u8
        })
        .collect()
}

#[test]
fn round_trip_every_type_versions_and_alignments() {
    let dir = TempDir::new("round");
    for version in [2, 3] {
        for alignment in [None, Some(1), Some(32), Some(64), Some(4096)] {
            let path = dir.0.join(format!("v{version}-{alignment:?}.gguf"));
            let mut w = GgufWriter::new(&path);
            w.set_version(version).unwrap();
            w.add_metadata("general.architecture", MetaValue::Str("test".into()))
                .unwrap();
            if let Some(a) = alignment {
                w.set_alignment(a).unwrap();
            }
            for (k, v) in every_type() {
                w.add_metadata(&k, v).unwrap();
            }
            for (name, dtype, dims) in tensors() {
                w.add_tensor(name, dtype, &dims).unwrap();
            }
            let mut seen = Vec::new();
            w.write(|t, out| {
                seen.push(t.clone());
                // Stream in pieces of 7 bytes, as a converter writing row by row would.
                payload(&t.name, t.size).chunks(7).try_for_each(|c| out.write_all(c))
            })
            .unwrap();

            let g = GgufFile::open(&path).unwrap_or_else(|e| panic!("{e}"));
            let want_align = alignment.map_or(32, u64::from);
            assert_eq!((g.version(), g.alignment()), (version, want_align));
            let mut want_meta = vec![("general.architecture".to_string(), MetaValue::Str("test".into()))];
            if let Some(a) = alignment {
                want_meta.push(("general.alignment".to_string(), MetaValue::U32(a)));
            }
            want_meta.extend(every_type());
            assert_eq!(g.metadata(), &want_meta[..]);
            assert_eq!(g.tensors(), &seen[..], "the callback saw the final infos");
            for ((name, dtype, dims), t) in tensors().into_iter().zip(g.tensors()) {
                let elems: u64 = dims.iter().product();
                let size = elems / dtype.block_elems() as u64 * dtype.block_bytes() as u64;
                let shape: Vec<usize> = dims.iter().rev().map(|&d| d as usize).collect();
                assert_eq!(
                    (t.name.as_str(), t.dtype, &t.dims, &t.shape, t.size),
                    (name, dtype, &dims, &shape, size)
                );
                assert_eq!((t.offset - g.data_offset()) % want_align, 0, "{name} aligned");
                assert_eq!(g.tensor_data(t), payload(name, size), "{name} data");
            }
            assert_eq!(g.data_offset() % want_align, 0);
            assert!(!dir.0.join(format!("v{version}-{alignment:?}.gguf.tmp")).exists());
        }
    }
}

#[test]
fn a_failed_write_leaves_no_file_and_keeps_an_old_one() {
    let dir = TempDir::new("fail");
    let path = dir.0.join("model.gguf");
    let tmp = dir.0.join("model.gguf.tmp");
    let build = || {
        let mut w = GgufWriter::new(&path);
        w.add_tensor("x", DType::F32, &[4]).unwrap();
        w.add_tensor("y", DType::F32, &[4]).unwrap();
        w
    };
    let fail_on_y = |t: &TensorInfo, out: &mut dyn Write| -> std::io::Result<()> {
        if t.name == "y" {
            out.write_all(&[0; 3])?;
            return Err(std::io::Error::other("disk full"));
        }
        out.write_all(&[0; 16])
    };
    let e = build().write(fail_on_y).expect_err("the callback failed");
    assert!(
        e.to_string().contains("disk full") && e.to_string().contains("\"y\""),
        "{e}"
    );
    assert!(!path.exists() && !tmp.exists());

    // Too few bytes from the callback is an error naming the tensor.
    let e = build()
        .write(|_, out| out.write_all(&[0; 15]))
        .expect_err("short tensor");
    assert!(
        matches!(&e, GgufError::Write { msg, .. } if msg.contains("\"x\"") && msg.contains("15 bytes")),
        "{e}"
    );
    assert!(!path.exists() && !tmp.exists());

    // An existing file survives a failed rewrite and is replaced by a good one.
    std::fs::write(&path, b"old").unwrap();
    build().write(fail_on_y).expect_err("the callback failed");
    assert_eq!(std::fs::read(&path).unwrap(), b"old");
    build().write(|_, out| out.write_all(&[7; 16])).unwrap();
    let g = GgufFile::open(&path).unwrap();
    assert_eq!(g.tensor_data(g.tensor("y").unwrap()), &[7; 16]);
    assert!(!tmp.exists());
}

#[test]
fn the_writer_refuses_what_gguf_cannot_hold() {
    let path = std::env::temp_dir().join("lingot-never-written.gguf");
    let mut w = GgufWriter::new(&path);
    assert!(w.set_version(1).is_err() && w.set_version(4).is_err());
    w.add_metadata("k", MetaValue::U8(1)).unwrap();
    assert!(w.add_metadata("k", MetaValue::U8(2)).is_err(), "duplicate key");
    let mixed = MetaValue::Array(vec![MetaValue::U8(1), MetaValue::U16(2)]);
    assert!(w.add_metadata("mixed", mixed).is_err(), "mixed array");
    let nested_mixed = MetaValue::Array(vec![MetaValue::Array(vec![MetaValue::Bool(true), MetaValue::U8(0)])]);
    assert!(
        w.add_metadata("nested.mixed", nested_mixed).is_err(),
        "mixed inner array"
    );
    w.add_tensor("t", DType::F32, &[2]).unwrap();
    assert!(w.add_tensor("t", DType::F32, &[2]).is_err(), "duplicate tensor");
    let e = w
        .add_tensor("q", DType::Q4K, &[100])
        .expect_err("100 is not whole Q4_K blocks");
    assert!(matches!(&e, GgufError::BadDims { tensor, .. } if tensor == "q"), "{e}");
    assert!(w.add_tensor("five", DType::F32, &[1, 1, 1, 1, 1]).is_err(), "5 dims");
    assert!(
        w.add_tensor("huge", DType::F32, &[1 << 62, 1 << 62]).is_err(),
        "overflow"
    );
    assert!(!path.exists());
}
