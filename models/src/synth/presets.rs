//! The shapes of the released Bailing-MoE2 models (Ling-mini-2.0, Ling-flash-2.0, Ling-1T, from
//! their HF `config.json`) and of `tiny`, a small model for tests shaped like ../shared/reference/tiny.

use std::fmt;

/// Every size `synth` needs to lay out a model; the GGUF keys are written from these.
#[derive(Debug, Clone, PartialEq)]
pub struct Shapes {
    /// `general.name`.
    pub name: &'static str,
    pub block_count: usize,
    pub leading_dense_block_count: usize,
    pub embedding_length: usize,
    /// Width of the dense (leading) blocks' FFN.
    pub feed_forward_length: usize,
    pub head_count: usize,
    pub head_count_kv: usize,
    pub head_dim: usize,
    pub rope_dimension_count: usize,
    pub rope_freq_base: f32,
    pub expert_count: usize,
    pub expert_used_count: usize,
    pub expert_group_count: usize,
    pub expert_group_used_count: usize,
    pub expert_feed_forward_length: usize,
    pub expert_shared_count: usize,
    pub vocab_size: usize,
    /// Id of `<|startoftext|>`, the first of Ling's special tokens; the rest follow it.
    pub first_special_token: usize,
    pub context_length: usize,
    pub rms_eps: f32,
    pub expert_weights_scale: f32,
    pub expert_weights_norm: bool,
    /// 1 softmax, 2 sigmoid (what Ling uses).
    pub expert_gating_func: u32,
}

impl Shapes {
    /// Width of the shared-expert FFN: the converter writes the total over shared experts.
    pub fn shared_feed_forward_length(&self) -> usize {
        self.expert_shared_count * self.expert_feed_forward_length
    }
}

/// A model `lingot synth` can lay out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    LingMini2,
    LingFlash2,
    Ling1T,
    Tiny,
}

impl Preset {
    pub const ALL: [Preset; 4] = [Preset::LingMini2, Preset::LingFlash2, Preset::Ling1T, Preset::Tiny];

    /// The name `--preset` takes.
    pub const fn name(self) -> &'static str {
        match self {
            Preset::LingMini2 => "ling-mini-2.0",
            Preset::LingFlash2 => "ling-flash-2.0",
            Preset::Ling1T => "ling-1t",
            Preset::Tiny => "tiny",
        }
    }

    pub fn from_name(s: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name().eq_ignore_ascii_case(s))
    }

    pub fn shapes(self) -> Shapes {
        // What the three released models share (BAILING_MOE2.md, "Released models").
        let ling = Shapes {
            name: "",
            block_count: 0,
            leading_dense_block_count: 1,
            embedding_length: 0,
            feed_forward_length: 0,
            head_count: 0,
            head_count_kv: 4,
            head_dim: 128,
            rope_dimension_count: 64,
            rope_freq_base: 600000.0,
            expert_count: 256,
            expert_used_count: 8,
            expert_group_count: 8,
            expert_group_used_count: 4,
            expert_feed_forward_length: 0,
            expert_shared_count: 1,
            vocab_size: 157184,
            first_special_token: 156891,
            context_length: 32768,
            rms_eps: 1e-6,
            expert_weights_scale: 2.5,
            expert_weights_norm: true,
            expert_gating_func: 2,
        };
        match self {
            Preset::LingMini2 => Shapes {
                name: "Ling-mini-2.0 (synthetic)",
                block_count: 20,
                embedding_length: 2048,
                feed_forward_length: 5120,
                head_count: 16,
                expert_feed_forward_length: 512,
                ..ling
            },
            Preset::LingFlash2 => Shapes {
                name: "Ling-flash-2.0 (synthetic)",
                block_count: 32,
                embedding_length: 4096,
                feed_forward_length: 9216,
                head_count: 32,
                expert_feed_forward_length: 1024,
                ..ling
            },
            Preset::Ling1T => Shapes {
                name: "Ling-1T (synthetic)",
                block_count: 80,
                leading_dense_block_count: 4,
                embedding_length: 8192,
                feed_forward_length: 18432,
                head_count: 64,
                head_count_kv: 8,
                expert_feed_forward_length: 2048,
                ..ling
            },
            Preset::Tiny => Shapes {
                name: "tiny (synthetic)",
                block_count: 3,
                embedding_length: 64,
                feed_forward_length: 96,
                head_count: 4,
                head_count_kv: 2,
                head_dim: 16,
                rope_dimension_count: 8,
                expert_count: 16,
                expert_used_count: 4,
                expert_group_count: 4,
                expert_group_used_count: 2,
                expert_feed_forward_length: 32,
                vocab_size: 1024,
                first_special_token: 1011,
                context_length: 2048,
                ..ling
            },
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
