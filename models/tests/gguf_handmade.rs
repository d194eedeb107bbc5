//! GGUF files assembled byte by byte here, following the GGUF spec (ggml docs/gguf.md) rather
//! than the crate's writer: v2 headers, non-default alignments and nested arrays, which no
//! reference file holds, plus the damage that needs a file of its own (bad `general.alignment`).
//! The writer must reproduce these bytes exactly.

use lingot_ir::DType;
use lingot_models::gguf::{GgufError, GgufFile, GgufWriter, MetaValue};

/// A GGUF image under construction. Every integer is little-endian; strings and counts are u64
/// in v2 and v3 (v1, unsupported, had u32 ones).
struct Image(Vec<u8>);

impl Image {
    fn new(version: u32, tensors: u64, kvs: u64) -> Image {
        let mut i = Image(b"GGUF".to_vec());
        i.u32(version).u64(tensors).u64(kvs);
        i
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.0.extend_from_slice(b);
        self
    }
    fn str(&mut self, s: &str) -> &mut Self {
        self.u64(s.len() as u64).raw(s.as_bytes())
    }
    /// A key and its value type.
    fn key(&mut self, k: &str, ty: u32) -> &mut Self {
        self.str(k).u32(ty)
    }
    fn tensor(&mut self, name: &str, dims: &[u64], ggml_type: u32, offset: u64) -> &mut Self {
        self.str(name).u32(dims.len() as u32);
        for &d in dims {
            self.u64(d);
        }
        self.u32(ggml_type).u64(offset)
    }
    fn pad_to(&mut self, align: usize) -> &mut Self {
        while !self.0.len().is_multiple_of(align) {
            self.0.push(0);
        }
        self
    }
}

/// Two tensors and one key of each kind that matters, as a v2 file with alignment 64.
fn v2_image() -> Image {
    let mut i = Image::new(2, 2, 4);
    i.key("general.alignment", 4).u32(64);
    i.key("a.u8", 0).raw(&[200]);
    // A nested array: [[1i16, -2i16], []] (an empty array's element type is u8).
    i.key("a.nested", 9).u32(9).u64(2);
    i.u32(3).u64(2).raw(&1i16.to_le_bytes()).raw(&(-2i16).to_le_bytes());
    i.u32(0).u64(0);
    i.key("a.strs", 9).u32(8).u64(2).str("x").str("héllo");
    // F32 {3} (12 bytes) at 0; Q8_0 {32, 2} (68 bytes) at 64, the next multiple of 64.
    i.tensor("t.f32", &[3], 0, 0).tensor("t.q8", &[32, 2], 8, 64);
    i.pad_to(64);
    i.raw(&[1; 12]).pad_to(64).raw(&[2; 68]).pad_to(64);
    i
}

fn v2_values() -> Vec<(String, MetaValue)> {
    vec![
        ("general.alignment".into(), MetaValue::U32(64)),
        ("a.u8".into(), MetaValue::U8(200)),
        (
            "a.nested".into(),
            MetaValue::Array(vec![
                MetaValue::Array(vec![MetaValue::I16(1), MetaValue::I16(-2)]),
                MetaValue::Array(vec![]),
            ]),
        ),
        (
            "a.strs".into(),
            MetaValue::Array(vec![MetaValue::Str("x".into()), MetaValue::Str("héllo".into())]),
        ),
    ]
}

#[test]
fn reads_a_v2_file_with_alignment_64_and_nested_arrays() {
    let image = v2_image().0;
    let g = GgufFile::from_bytes("v2.gguf", image.clone()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((g.version(), g.alignment(), g.len()), (2, 64, image.len() as u64));
    assert_eq!(g.metadata(), &v2_values()[..]);
    let header_len = image.len() - 192; // data: 12 + pad to 64, then 68 + pad to 128
    assert_eq!(g.data_offset() as usize, header_len.div_ceil(64) * 64);
    let f = g.tensor("t.f32").unwrap();
    assert_eq!(
        (f.dtype, f.dims.as_slice(), f.shape.as_slice(), f.size),
        (DType::F32, &[3u64][..], &[3usize][..], 12)
    );
    assert_eq!(g.tensor_data(f), &[1; 12]);
    let q = g.tensor("t.q8").unwrap();
    assert_eq!(
        (q.dtype, q.shape.as_slice(), q.size, q.offset),
        (DType::Q8_0, &[2usize, 32][..], 68, g.data_offset() + 64)
    );
    assert_eq!(g.tensor_data(q), &[2; 68]);
}

#[test]
fn the_writer_reproduces_the_handmade_v2_file_byte_for_byte() {
    let path = std::env::temp_dir().join(format!("lingot-handmade-v2-{}.gguf", std::process::id()));
    let mut w = GgufWriter::new(&path);
    w.set_version(2).unwrap();
    for (k, v) in v2_values() {
        w.add_metadata(&k, v).unwrap();
    }
    w.add_tensor("t.f32", DType::F32, &[3]).unwrap();
    w.add_tensor("t.q8", DType::Q8_0, &[32, 2]).unwrap();
    w.write(|t, out| out.write_all(&vec![if t.dtype == DType::F32 { 1 } else { 2 }; t.size as usize]))
        .unwrap();
    let written = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(written, v2_image().0);
}

#[test]
fn bad_alignment_values() {
    for (ty, value, shows) in [
        (4u32, 0u32.to_le_bytes().to_vec(), "0 (u32)"),
        (4, 3u32.to_le_bytes().to_vec(), "3 (u32)"),
        (10, 64u64.to_le_bytes().to_vec(), "64 (u64)"),
    ] {
        let mut i = Image::new(3, 0, 1);
        i.key("general.alignment", ty).raw(&value);
        let e = GgufFile::from_bytes("align.gguf", i.0).expect_err("a bad alignment was accepted");
        assert!(
            matches!(&e, GgufError::BadAlignment { found, .. } if found == shows),
            "{e}"
        );
        assert!(e.to_string().contains("align.gguf"), "{e}");
    }
    // The writer refuses them too.
    let mut w = GgufWriter::new(std::path::Path::new("never-written.gguf"));
    assert!(w.set_alignment(0).is_err() && w.set_alignment(48).is_err());
    assert!(w.add_metadata("general.alignment", MetaValue::U64(64)).is_err());
}

#[test]
fn a_file_without_tensors_and_one_with_a_scalar() {
    let mut i = Image::new(3, 0, 0);
    let g = GgufFile::from_bytes("empty.gguf", i.0.clone()).unwrap();
    assert!(g.metadata().is_empty() && g.tensors().is_empty());
    // A 0-dim F32 tensor holds one element; ggml pads missing dims with 1.
    i = Image::new(3, 1, 0);
    i.tensor("s", &[], 0, 0).pad_to(32).raw(&1.5f32.to_le_bytes());
    let g = GgufFile::from_bytes("scalar.gguf", i.0).unwrap();
    let s = g.tensor("s").unwrap();
    assert_eq!((s.size, s.shape.len()), (4, 0));
    assert_eq!(g.tensor_data(s), 1.5f32.to_le_bytes());
}

#[test]
fn deep_nesting_and_bad_array_element_types_are_refused() {
    let mut i = Image::new(3, 0, 1);
    i.key("deep", 9);
    for _ in 0..10_000 {
        i.u32(9).u64(1);
    }
    let e = GgufFile::from_bytes("deep.gguf", i.0).expect_err("deep nesting");
    assert!(
        matches!(&e, GgufError::BadValue { msg, context, .. } if msg.contains("nested deeper") && context.contains("deep")),
        "{e}"
    );

    let mut i = Image::new(3, 0, 1);
    i.key("odd", 9).u32(77).u64(1).u32(0);
    let e = GgufFile::from_bytes("odd.gguf", i.0).expect_err("element type 77");
    assert!(
        matches!(&e, GgufError::BadValue { msg, offset: 39, .. } if msg.contains("element type id 77")),
        "{e}"
    );

    // 2^61 u64 elements claimed with 8 bytes left.
    let mut i = Image::new(3, 0, 1);
    i.key("big", 9).u32(10).u64(1 << 61).u64(0);
    let e = GgufFile::from_bytes("big.gguf", i.0).expect_err("array length");
    assert!(
        matches!(
            &e,
            GgufError::TooMany {
                what: "array length",
                max: 1,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn bad_utf8_in_a_string_value_and_a_tensor_name() {
    let mut i = Image::new(3, 0, 1);
    i.key("s", 8).u64(2).raw(&[0xc3, 0x28]);
    let e = GgufFile::from_bytes("utf8.gguf", i.0).expect_err("bad utf-8");
    assert!(
        matches!(
            &e,
            GgufError::BadUtf8 {
                offset: 45,
                what: "string",
                ..
            }
        ),
        "{e}"
    );
    let mut i = Image::new(3, 1, 0);
    i.u64(1).raw(&[0xff]).u32(1).u64(1).u32(0).u64(0);
    let e = GgufFile::from_bytes("utf8.gguf", i.0).expect_err("bad tensor name");
    assert!(
        matches!(
            &e,
            GgufError::BadUtf8 {
                offset: 32,
                what: "tensor name",
                ..
            }
        ),
        "{e}"
    );
}
