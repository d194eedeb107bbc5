//! Element types: the plain ones activations use and every GGUF quant type a weight may hold.
//!
//! This is the one place block sizes and byte layouts live. A quantized row of `n` elements is
//! `n / block_elems()` blocks of `block_bytes()` bytes each; the byte layout of each block is
//! documented on its variant (all little-endian, as ggml writes them).

use std::fmt;

/// An element type. The GGML type id of each variant is [`DType::ggml_type`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    F32,
    F16,
    BF16,
    I32,
    /// 32 elements: `d: f16`, `qs: [i8; 32]`. x = d * q.
    Q8_0,
    /// 32 elements: `d: f16`, `qs: [u8; 16]` (low nibbles are elements 0..16, high 16..32). x = d * (q - 8).
    Q4_0,
    /// 32 elements: `d: f16`, `m: f16`, `qs: [u8; 16]`. x = d * q + m.
    Q4_1,
    /// 32 elements: `d: f16`, `qh: u32` (5th bits), `qs: [u8; 16]`. x = d * (q - 16).
    Q5_0,
    /// 32 elements: `d: f16`, `m: f16`, `qh: u32`, `qs: [u8; 16]`. x = d * q + m.
    Q5_1,
    /// 256 elements: `scales: [u8; 16]` (4-bit scale | 4-bit min), `qs: [u8; 64]` (2-bit), `d: f16`, `dmin: f16`.
    Q2K,
    /// 256 elements: `hmask: [u8; 32]`, `qs: [u8; 64]` (low 2 bits), `scales: [u8; 12]` (16 packed 6-bit), `d: f16`.
    Q3K,
    /// 256 elements: `d: f16`, `dmin: f16`, `scales: [u8; 12]` (8 packed 6-bit scales and mins), `qs: [u8; 128]`.
    Q4K,
    /// 256 elements: `d: f16`, `dmin: f16`, `scales: [u8; 12]`, `qh: [u8; 32]`, `qs: [u8; 128]`.
    Q5K,
    /// 256 elements: `ql: [u8; 128]`, `qh: [u8; 64]`, `scales: [i8; 16]`, `d: f16`.
    Q6K,
}

impl DType {
    /// Every dtype, in GGML type-id order except the plain types first.
    pub const ALL: [DType; 14] = [
        DType::F32,
        DType::F16,
        DType::BF16,
        DType::I32,
        DType::Q8_0,
        DType::Q4_0,
        DType::Q4_1,
        DType::Q5_0,
        DType::Q5_1,
        DType::Q2K,
        DType::Q3K,
        DType::Q4K,
        DType::Q5K,
        DType::Q6K,
    ];

    /// Elements per block (1 for the plain types).
    pub const fn block_elems(self) -> usize {
        match self {
            DType::F32 | DType::F16 | DType::BF16 | DType::I32 => 1,
            DType::Q8_0 | DType::Q4_0 | DType::Q4_1 | DType::Q5_0 | DType::Q5_1 => 32,
            DType::Q2K | DType::Q3K | DType::Q4K | DType::Q5K | DType::Q6K => 256,
        }
    }

    /// Bytes per block.
    pub const fn block_bytes(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 => 2,
            DType::Q8_0 => 34,
            DType::Q4_0 => 18,
            DType::Q4_1 => 20,
            DType::Q5_0 => 22,
            DType::Q5_1 => 24,
            DType::Q2K => 84,
            DType::Q3K => 110,
            DType::Q4K => 144,
            DType::Q5K => 176,
            DType::Q6K => 210,
        }
    }

    pub const fn is_quantized(self) -> bool {
        self.block_elems() > 1
    }

    /// Bytes of a row of `n` elements, or `None` if `n` is not a whole number of blocks or overflows.
    pub fn row_bytes(self, n: u64) -> Option<u64> {
        let be = self.block_elems() as u64;
        if !n.is_multiple_of(be) {
            return None;
        }
        (n / be).checked_mul(self.block_bytes() as u64)
    }

    /// The GGML type id (`ggml_type`) as stored in GGUF tensor infos.
    pub const fn ggml_type(self) -> u32 {
        match self {
            DType::F32 => 0,
            DType::F16 => 1,
            DType::Q4_0 => 2,
            DType::Q4_1 => 3,
            DType::Q5_0 => 6,
            DType::Q5_1 => 7,
            DType::Q8_0 => 8,
            DType::Q2K => 10,
            DType::Q3K => 11,
            DType::Q4K => 12,
            DType::Q5K => 13,
            DType::Q6K => 14,
            DType::I32 => 26,
            DType::BF16 => 30,
        }
    }

    pub fn from_ggml_type(id: u32) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.ggml_type() == id)
    }

    /// The name used in the text IR (`f32`, `q4_k`), lowercase.
    pub const fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::I32 => "i32",
            DType::Q8_0 => "q8_0",
            DType::Q4_0 => "q4_0",
            DType::Q4_1 => "q4_1",
            DType::Q5_0 => "q5_0",
            DType::Q5_1 => "q5_1",
            DType::Q2K => "q2_k",
            DType::Q3K => "q3_k",
            DType::Q4K => "q4_k",
            DType::Q5K => "q5_k",
            DType::Q6K => "q6_k",
        }
    }

    /// The name ggml and llama.cpp print (`Q4_K`, `F32`).
    pub fn ggml_name(self) -> String {
        self.name().to_uppercase()
    }

    /// Parses either spelling, case-insensitively.
    pub fn from_name(s: &str) -> Option<DType> {
        let lower = s.to_ascii_lowercase();
        DType::ALL.into_iter().find(|d| d.name() == lower)
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_round_trip() {
        for d in DType::ALL {
            assert_eq!(DType::from_name(d.name()), Some(d));
            assert_eq!(DType::from_name(&d.ggml_name()), Some(d));
            assert_eq!(DType::from_ggml_type(d.ggml_type()), Some(d));
        }
    }

    #[test]
    fn row_bytes_checks_blocks() {
        assert_eq!(DType::Q4K.row_bytes(512), Some(288));
        assert_eq!(DType::Q4K.row_bytes(100), None);
        assert_eq!(DType::F16.row_bytes(3), Some(6));
        assert_eq!(DType::Q8_0.row_bytes(u64::MAX - 31), None);
    }
}
