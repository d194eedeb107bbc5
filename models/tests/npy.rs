//! .npy reading against the reference files and against headers written by hand from the NumPy
//! format description (magic, version, header length, a Python dict literal, then C-order data);
//! writing round trips through the reader and matches those hand-written bytes.

mod common;

use common::reference_dir;

use std::path::Path;

use lingot_models::npy::{self, NpyError};

/// A .npy image: `version` 1 has a u16 header length, 2 and 3 a u32 one.
fn handmade(version: u8, dict: &str, data: &[u8]) -> Vec<u8> {
    let mut out = b"\x93NUMPY".to_vec();
    out.extend_from_slice(&[version, 0]);
    let header = format!("{dict}\n");
    match version {
        1 => out.extend_from_slice(&(header.len() as u16).to_le_bytes()),
        _ => out.extend_from_slice(&(header.len() as u32).to_le_bytes()),
    }
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

#[test]
fn reference_logits_and_samples() {
    let dir = reference_dir();
    let (shape, data) = npy::read_f32(&dir.join("tiny/logits-F32-a.npy")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(shape, [48, 1024]);
    assert_eq!(data.len(), 48 * 1024);
    assert!(data.iter().all(|x| x.is_finite()));
    // The raw file is a 128-byte header and then exactly these floats, little-endian.
    let raw = std::fs::read(dir.join("tiny/logits-F32-a.npy")).unwrap();
    assert_eq!(raw.len(), 128 + 4 * data.len());
    assert_eq!(
        f32::from_le_bytes(raw[128..132].try_into().unwrap()).to_bits(),
        data[0].to_bits()
    );
    let last = raw.len() - 4;
    assert_eq!(
        f32::from_le_bytes(raw[last..].try_into().unwrap()).to_bits(),
        data[data.len() - 1].to_bits()
    );

    let (shape, _) = npy::read_f32(&dir.join("tiny/logits-Q8_0-b.npy")).unwrap();
    assert_eq!(shape, [160, 1024]);
    let (shape, _) = npy::read_f32(&dir.join("small/dequant-Q2_K-output.weight.npy")).unwrap();
    assert_eq!(shape, [16, 256]);
    let e = npy::read_i32(&dir.join("tiny/logits-F32-a.npy")).expect_err("f32 read as i32");
    assert!(
        matches!(&e, NpyError::Unsupported { found, .. } if found.contains("<f4")),
        "{e}"
    );
    assert!(e.to_string().contains("logits-F32-a.npy"), "{e}");
}

#[test]
fn handmade_headers_of_every_version() {
    let floats: Vec<u8> = [1.0f32, -2.5, 3.25, 0.0, 5.0, 6.0]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let ints: Vec<u8> = [7i32, -8, i32::MAX].iter().flat_map(|x| x.to_le_bytes()).collect();
    let p = Path::new("hand.npy");
    for version in [1, 2, 3] {
        let img = handmade(
            version,
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
            &floats,
        );
        assert_eq!(
            npy::parse_f32(p, &img).unwrap(),
            (vec![2, 3], vec![1.0, -2.5, 3.25, 0.0, 5.0, 6.0])
        );
        let img = handmade(
            version,
            "{\"shape\": (3,), \"fortran_order\": False, \"descr\": \"<i4\"}",
            &ints,
        );
        assert_eq!(npy::parse_i32(p, &img).unwrap(), (vec![3], vec![7, -8, i32::MAX]));
    }
    let scalar = handmade(
        1,
        "{'descr': '<f4', 'fortran_order': False, 'shape': ()}",
        &2.0f32.to_le_bytes(),
    );
    assert_eq!(npy::parse_f32(p, &scalar).unwrap(), (vec![], vec![2.0]));
    let empty = handmade(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5)}", &[]);
    assert_eq!(npy::parse_f32(p, &empty).unwrap(), (vec![0, 5], vec![]));
}

#[test]
fn what_is_not_supported_says_so() {
    let p = Path::new("bad.npy");
    let four = [0u8; 16];
    let cases: [(Vec<u8>, &str); 9] = [
        (
            handmade(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (4,)}", &four),
            ">f4",
        ),
        (
            handmade(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}", &four),
            "<f8",
        ),
        (
            handmade(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2)}", &four),
            "Fortran",
        ),
        (
            handmade(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (5,)}", &four),
            "needs 20 bytes",
        ),
        (
            handmade(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", &four),
            "needs 12 bytes",
        ),
        (handmade(1, "{'descr': '<f4', 'shape': (4,)}", &four), "lacks"),
        (
            handmade(4, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", &four),
            "version 4",
        ),
        (b"\x93NUMPY\x01\x00\xff\x00{".to_vec(), "claims 255 bytes"),
        (b"PK\x03\x04 a zip file".to_vec(), "\\x93NUMPY"),
    ];
    for (img, says) in cases {
        let e = npy::parse_f32(p, &img).expect_err(says);
        assert!(
            e.to_string().contains(says) && e.to_string().starts_with("bad.npy: "),
            "{says}: {e}"
        );
    }
    let huge = handmade(
        1,
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296)}",
        &[],
    );
    assert!(npy::parse_f32(p, &huge).unwrap_err().to_string().contains("overflows"));
}

#[test]
fn write_matches_numpy_layout_and_reads_back() {
    let dir = std::env::temp_dir().join(format!("lingot-npy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("x.npy");
    let data: Vec<f32> = (0..12).map(|i| i as f32 * 0.5 - 1.0).collect();
    npy::write_f32(&path, &[3, 4], &data).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    // What numpy.save writes: the dict padded with spaces so data starts at a multiple of 64
    // (here 128: 10 bytes of prefix, 59 of dict, 58 spaces, a newline).
    let dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
    let padded = format!("{dict}{}", " ".repeat(58));
    let raw: Vec<u8> = data.iter().flat_map(|x| x.to_le_bytes()).collect();
    assert_eq!(bytes, handmade(1, &padded, &raw));
    assert_eq!(npy::read_f32(&path).unwrap(), (vec![3, 4], data.clone()));

    npy::write_f32(&path, &[12], &data).unwrap();
    assert_eq!(npy::read_f32(&path).unwrap().0, [12]);
    assert!(npy::write_f32(&path, &[5], &data).is_err(), "shape and data disagree");
    assert_eq!(
        npy::read_f32(&path).unwrap().0,
        [12],
        "a failed write keeps the old file"
    );
    assert!(!dir.join("x.npy.tmp").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
