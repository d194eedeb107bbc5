//! Which dtype each tensor gets for a file type: llama-quantize's choices for this architecture
//! (as ik_llama.cpp's `llama-quantize` made the reference files: ../shared/reference/*/manifest.json).
//!
//! Norms, the router (`ffn_gate_inp`) and the expert bias stay F32 in every file. In the `_M` mixes
//! `output.weight` is Q6_K, `attn_output` Q5_K (models of 4 experts or more), and the `ffn_down*`
//! tensors of the layers `use_more_bits` picks are Q6_K. A row that is not a whole number of
//! 256-element blocks falls back as llama-quantize does: Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0.

use std::fmt;

use lingot_ir::DType;

/// A file type `--type` takes: one dtype for every matrix, or a llama-quantize mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    F32,
    F16,
    BF16,
    Q8_0,
    Q4_0,
    /// Q4_K everywhere (llama-quantize `--pure`).
    Q4K,
    Q4KM,
    /// Q5_K everywhere (llama-quantize `--pure`).
    Q5K,
    Q5KM,
    Q6K,
}

impl FileType {
    pub const ALL: [FileType; 10] = [
        FileType::F32,
        FileType::F16,
        FileType::BF16,
        FileType::Q8_0,
        FileType::Q4_0,
        FileType::Q4K,
        FileType::Q4KM,
        FileType::Q5K,
        FileType::Q5KM,
        FileType::Q6K,
    ];

    /// The name llama-quantize uses (`Q4_K_M`).
    pub const fn name(self) -> &'static str {
        match self {
            FileType::F32 => "F32",
            FileType::F16 => "F16",
            FileType::BF16 => "BF16",
            FileType::Q8_0 => "Q8_0",
            FileType::Q4_0 => "Q4_0",
            FileType::Q4K => "Q4_K",
            FileType::Q4KM => "Q4_K_M",
            FileType::Q5K => "Q5_K",
            FileType::Q5KM => "Q5_K_M",
            FileType::Q6K => "Q6_K",
        }
    }

    /// Case-insensitive.
    pub fn from_name(s: &str) -> Option<FileType> {
        FileType::ALL.into_iter().find(|t| t.name().eq_ignore_ascii_case(s))
    }

    /// `general.file_type` (llama.cpp's `llama_ftype`). A pure k-quant file is written as its `_M`
    /// type, as `llama-quantize --pure` does.
    pub const fn llama_ftype(self) -> u32 {
        match self {
            FileType::F32 => 0,
            FileType::F16 => 1,
            FileType::Q4_0 => 2,
            FileType::Q8_0 => 7,
            FileType::Q4K | FileType::Q4KM => 15,
            FileType::Q5K | FileType::Q5KM => 17,
            FileType::Q6K => 18,
            FileType::BF16 => 32,
        }
    }

    /// The dtype of most matrices.
    const fn base(self) -> DType {
        match self {
            FileType::F32 => DType::F32,
            FileType::F16 => DType::F16,
            FileType::BF16 => DType::BF16,
            FileType::Q8_0 => DType::Q8_0,
            FileType::Q4_0 => DType::Q4_0,
            FileType::Q4K | FileType::Q4KM => DType::Q4K,
            FileType::Q5K | FileType::Q5KM => DType::Q5K,
            FileType::Q6K => DType::Q6K,
        }
    }
}

impl fmt::Display for FileType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a tensor is, whatever its block: the GGUF name without `blk.N.` and `.weight`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorKind {
    TokenEmbd,
    OutputNorm,
    Output,
    AttnNorm,
    AttnQkv,
    AttnQNorm,
    AttnKNorm,
    AttnOutput,
    FfnNorm,
    FfnGate,
    FfnUp,
    FfnDown,
    FfnGateInp,
    ExpProbsB,
    FfnGateExps,
    FfnUpExps,
    FfnDownExps,
    FfnGateShexp,
    FfnUpShexp,
    FfnDownShexp,
}

impl TensorKind {
    /// The GGUF name of this tensor in block `layer` (ignored for the global tensors).
    pub fn gguf_name(self, layer: usize) -> String {
        let block = |n: &str| format!("blk.{layer}.{n}.weight");
        match self {
            TensorKind::TokenEmbd => "token_embd.weight".into(),
            TensorKind::OutputNorm => "output_norm.weight".into(),
            TensorKind::Output => "output.weight".into(),
            TensorKind::AttnNorm => block("attn_norm"),
            TensorKind::AttnQkv => block("attn_qkv"),
            TensorKind::AttnQNorm => block("attn_q_norm"),
            TensorKind::AttnKNorm => block("attn_k_norm"),
            TensorKind::AttnOutput => block("attn_output"),
            TensorKind::FfnNorm => block("ffn_norm"),
            TensorKind::FfnGate => block("ffn_gate"),
            TensorKind::FfnUp => block("ffn_up"),
            TensorKind::FfnDown => block("ffn_down"),
            TensorKind::FfnGateInp => block("ffn_gate_inp"),
            TensorKind::ExpProbsB => format!("blk.{layer}.exp_probs_b.bias"),
            TensorKind::FfnGateExps => block("ffn_gate_exps"),
            TensorKind::FfnUpExps => block("ffn_up_exps"),
            TensorKind::FfnDownExps => block("ffn_down_exps"),
            TensorKind::FfnGateShexp => block("ffn_gate_shexp"),
            TensorKind::FfnUpShexp => block("ffn_up_shexp"),
            TensorKind::FfnDownShexp => block("ffn_down_shexp"),
        }
    }

    /// Tensors that stay F32 in every file: norms, the router and the expert bias.
    pub fn always_f32(self) -> bool {
        match self {
            TensorKind::OutputNorm
            | TensorKind::AttnNorm
            | TensorKind::AttnQNorm
            | TensorKind::AttnKNorm
            | TensorKind::FfnNorm
            | TensorKind::FfnGateInp
            | TensorKind::ExpProbsB => true,
            TensorKind::TokenEmbd
            | TensorKind::Output
            | TensorKind::AttnQkv
            | TensorKind::AttnOutput
            | TensorKind::FfnGate
            | TensorKind::FfnUp
            | TensorKind::FfnDown
            | TensorKind::FfnGateExps
            | TensorKind::FfnUpExps
            | TensorKind::FfnDownExps
            | TensorKind::FfnGateShexp
            | TensorKind::FfnUpShexp
            | TensorKind::FfnDownShexp => false,
        }
    }

    fn is_ffn_down(self) -> bool {
        matches!(
            self,
            TensorKind::FfnDown | TensorKind::FfnDownExps | TensorKind::FfnDownShexp
        )
    }
}

/// Where a tensor sits in the model, as llama-quantize's rules need it.
#[derive(Debug, Clone, Copy)]
pub struct Site {
    pub kind: TensorKind,
    pub layer: usize,
    pub n_layer: usize,
    pub n_expert: usize,
    /// Elements per row (ggml `ne0`).
    pub row_len: u64,
}

/// llama.cpp's `use_more_bits`: the first and last eighth of the layers and every third between.
pub fn use_more_bits(layer: usize, n_layer: usize) -> bool {
    layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2
}

/// The dtype `ftype` gives the tensor at `site`.
pub fn tensor_type(ftype: FileType, site: Site) -> DType {
    if site.kind.always_f32() {
        return DType::F32;
    }
    let mixed = matches!(ftype, FileType::Q4KM | FileType::Q5KM);
    let wanted = match site.kind {
        TensorKind::Output if !matches!(ftype, FileType::F32 | FileType::F16 | FileType::BF16 | FileType::Q8_0) => {
            if matches!(ftype, FileType::Q4K | FileType::Q5K) {
                ftype.base()
            } else {
                DType::Q6K
            }
        }
        TensorKind::AttnOutput if mixed && site.n_expert >= 4 => DType::Q5K,
        k if mixed && k.is_ffn_down() && use_more_bits(site.layer, site.n_layer) => DType::Q6K,
        _ => ftype.base(),
    };
    fallback(wanted, site.row_len)
}

/// llama-quantize's substitute for a type whose blocks do not divide the row.
fn fallback(dtype: DType, row_len: u64) -> DType {
    if row_len.is_multiple_of(dtype.block_elems() as u64) {
        return dtype;
    }
    let sub = match dtype {
        DType::Q4K => DType::Q5_0,
        DType::Q5K => DType::Q5_1,
        DType::Q6K => DType::Q8_0,
        _ => DType::F16,
    };
    if row_len.is_multiple_of(sub.block_elems() as u64) {
        sub
    } else {
        DType::F16
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(kind: TensorKind, layer: usize, n_layer: usize, row_len: u64) -> Site {
        Site {
            kind,
            layer,
            n_layer,
            n_expert: 32,
            row_len,
        }
    }

    #[test]
    fn q4_k_m_matches_the_austen_reference() {
        // ../shared/reference/austen/austen-Q4_K_M.gguf: 6 layers, expert rows of 64.
        let t = |kind, layer, row| tensor_type(FileType::Q4KM, site(kind, layer, 6, row));
        assert_eq!(t(TensorKind::Output, 0, 256), DType::Q6K);
        assert_eq!(t(TensorKind::TokenEmbd, 0, 256), DType::Q4K);
        assert_eq!(t(TensorKind::AttnOutput, 3, 256), DType::Q5K);
        assert_eq!(t(TensorKind::AttnQkv, 3, 256), DType::Q4K);
        assert_eq!(t(TensorKind::FfnDown, 0, 768), DType::Q4K);
        for (layer, want) in [
            (1, DType::Q5_0),
            (2, DType::Q8_0),
            (3, DType::Q5_0),
            (4, DType::Q5_0),
            (5, DType::Q8_0),
        ] {
            assert_eq!(t(TensorKind::FfnDownExps, layer, 64), want, "layer {layer}");
            assert_eq!(t(TensorKind::FfnDownShexp, layer, 64), want, "layer {layer}");
        }
        assert_eq!(t(TensorKind::FfnGateInp, 1, 256), DType::F32);
    }

    #[test]
    fn plain_types_and_fallbacks() {
        let s = site(TensorKind::Output, 0, 3, 64);
        assert_eq!(tensor_type(FileType::Q4_0, s), DType::Q8_0);
        assert_eq!(tensor_type(FileType::F16, s), DType::F16);
        assert_eq!(tensor_type(FileType::Q8_0, s), DType::Q8_0);
        assert_eq!(
            tensor_type(FileType::Q5KM, site(TensorKind::FfnUp, 0, 3, 64)),
            DType::Q5_1
        );
        assert_eq!(
            tensor_type(FileType::Q8_0, site(TensorKind::FfnUp, 0, 3, 48)),
            DType::F16
        );
        assert_eq!(
            tensor_type(FileType::Q4K, site(TensorKind::Output, 0, 3, 2048)),
            DType::Q4K
        );
    }
}
