//! Bailing-MoE2 hyperparameters: read from the `bailingmoe2.*` GGUF keys and checked against each
//! other and against the shape of every tensor the forward pass reads.

use lingot_ir::IrError;

use crate::gguf::{GgufFile, MetaValue};

pub(crate) const ARCH: &str = "bailingmoe2";

/// What went wrong reading a model: names the key or tensor.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{file}: general.architecture is \"{found}\", lingot runs \"bailingmoe2\"")]
    Architecture { file: String, found: String },
    #[error("{file}: key {key} is missing")]
    MissingKey { file: String, key: String },
    #[error("{file}: key {key} is {found}, expected {expected}")]
    BadKey {
        file: String,
        key: String,
        found: String,
        expected: String,
    },
    #[error("{file}: tensor {name} is missing")]
    MissingTensor { file: String, name: String },
    #[error("{file}: tensor {name} has shape {found:?} (outermost first), expected {expected:?}")]
    TensorShape {
        file: String,
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("{file}: {msg}")]
    Inconsistent { file: String, msg: String },
    #[error("building the graph: {0}")]
    Graph(#[from] IrError),
}

/// The model's hyperparameters, each from the GGUF key of the same name.
#[derive(Debug, Clone, PartialEq)]
pub struct HParams {
    pub block_count: usize,
    pub context_length: usize,
    pub embedding_length: usize,
    pub feed_forward_length: usize,
    pub head_count: usize,
    pub head_count_kv: usize,
    pub key_length: usize,
    pub value_length: usize,
    pub rms_eps: f32,
    pub rope_freq_base: f32,
    pub rope_dimension_count: usize,
    /// 1 / the linear RoPE scaling factor (1 when `rope.scaling.type` is none).
    pub rope_freq_scale: f32,
    pub leading_dense_block_count: usize,
    pub vocab_size: usize,
    pub expert_count: usize,
    pub expert_used_count: usize,
    pub expert_shared_count: usize,
    pub expert_feed_forward_length: usize,
    /// Width of the shared-expert FFN, from the `ffn_*_shexp` tensors (the converter writes the
    /// total over shared experts into `expert_shared_feed_forward_length`).
    pub shared_feed_forward_length: usize,
    pub expert_group_count: usize,
    pub expert_group_used_count: usize,
    pub expert_weights_scale: f32,
    pub expert_weights_norm: bool,
}

struct Keys<'a> {
    f: &'a GgufFile,
}

impl Keys<'_> {
    fn file(&self) -> String {
        self.f.path().display().to_string()
    }

    fn raw(&self, key: &str) -> Result<&MetaValue, ModelError> {
        let full = format!("{ARCH}.{key}");
        self.f.get(&full).ok_or(ModelError::MissingKey {
            file: self.file(),
            key: full,
        })
    }

    fn bad(&self, key: &str, v: &MetaValue, expected: &str) -> ModelError {
        ModelError::BadKey {
            file: self.file(),
            key: format!("{ARCH}.{key}"),
            found: format!("{v:?}"),
            expected: expected.into(),
        }
    }

    fn usize(&self, key: &str) -> Result<usize, ModelError> {
        let v = self.raw(key)?;
        v.as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| self.bad(key, v, "a non-negative integer"))
    }

    fn usize_or(&self, key: &str, default: usize) -> Result<usize, ModelError> {
        match self.f.get(&format!("{ARCH}.{key}")) {
            None => Ok(default),
            Some(_) => self.usize(key),
        }
    }

    fn f32(&self, key: &str) -> Result<f32, ModelError> {
        let v = self.raw(key)?;
        v.as_f32().ok_or_else(|| self.bad(key, v, "a float"))
    }

    fn bool_or(&self, key: &str, default: bool) -> Result<bool, ModelError> {
        match self.f.get(&format!("{ARCH}.{key}")) {
            None => Ok(default),
            Some(v) => v.as_bool().ok_or_else(|| self.bad(key, v, "a bool")),
        }
    }
}

impl HParams {
    pub fn from_gguf(f: &GgufFile) -> Result<HParams, ModelError> {
        let file = f.path().display().to_string();
        let arch = f
            .get("general.architecture")
            .and_then(MetaValue::as_str)
            .unwrap_or("(none)");
        if arch != ARCH {
            return Err(ModelError::Architecture {
                file,
                found: arch.into(),
            });
        }
        let k = Keys { f };
        let head_count = k.usize("attention.head_count")?;
        let embedding_length = k.usize("embedding_length")?;
        let key_length = k.usize_or("attention.key_length", embedding_length / head_count.max(1))?;
        let rope_freq_scale = match f.get(&format!("{ARCH}.rope.scaling.type")).and_then(MetaValue::as_str) {
            None | Some("none") => 1.0,
            Some("linear") => 1.0 / k.f32("rope.scaling.factor")?,
            Some(other) => {
                let v = MetaValue::Str(other.into());
                return Err(k.bad("rope.scaling.type", &v, "none or linear (YaRN is not supported yet)"));
            }
        };
        let gating = k.usize_or("expert_gating_func", 2)?;
        if gating != 2 {
            return Err(k.bad("expert_gating_func", &MetaValue::U64(gating as u64), "2 (sigmoid)"));
        }
        let shexp = f.tensor(&format!(
            "blk.{}.ffn_up_shexp.weight",
            k.usize_or("leading_dense_block_count", 0)?
        ));
        let hp = HParams {
            block_count: k.usize("block_count")?,
            context_length: k.usize("context_length")?,
            embedding_length,
            feed_forward_length: k.usize("feed_forward_length")?,
            head_count,
            head_count_kv: k.usize("attention.head_count_kv")?,
            key_length,
            value_length: k.usize_or("attention.value_length", key_length)?,
            rms_eps: k.f32("attention.layer_norm_rms_epsilon")?,
            rope_freq_base: k.f32("rope.freq_base")?,
            rope_dimension_count: k.usize_or("rope.dimension_count", key_length)?,
            rope_freq_scale,
            leading_dense_block_count: k.usize_or("leading_dense_block_count", 0)?,
            vocab_size: f.tensor("token_embd.weight").map(|t| t.shape[0]).unwrap_or(0),
            expert_count: k.usize("expert_count")?,
            expert_used_count: k.usize("expert_used_count")?,
            expert_shared_count: k.usize_or("expert_shared_count", 0)?,
            expert_feed_forward_length: k.usize("expert_feed_forward_length")?,
            shared_feed_forward_length: shexp.map(|t| t.shape[0]).unwrap_or(0),
            expert_group_count: k.usize_or("expert_group_count", 1)?,
            expert_group_used_count: k.usize_or("expert_group_used_count", 1)?,
            expert_weights_scale: k.f32("expert_weights_scale")?,
            expert_weights_norm: k.bool_or("expert_weights_norm", false)?,
        };
        hp.check(f)?;
        Ok(hp)
    }

    /// Checks the keys against each other and against every tensor the graph will read.
    fn check(&self, f: &GgufFile) -> Result<(), ModelError> {
        let file = f.path().display().to_string();
        let bad = |msg: String| {
            Err(ModelError::Inconsistent {
                file: file.clone(),
                msg,
            })
        };
        if self.head_count == 0 || self.head_count_kv == 0 || !self.head_count.is_multiple_of(self.head_count_kv) {
            return bad(format!(
                "head_count {} is not a multiple of head_count_kv {}",
                self.head_count, self.head_count_kv
            ));
        }
        if !self.rope_dimension_count.is_multiple_of(2) || self.rope_dimension_count > self.key_length {
            return bad(format!(
                "rope.dimension_count {} must be even and at most key_length {}",
                self.rope_dimension_count, self.key_length
            ));
        }
        let (e, g, keep, k) = (
            self.expert_count,
            self.expert_group_count,
            self.expert_group_used_count,
            self.expert_used_count,
        );
        if self.leading_dense_block_count < self.block_count {
            if g == 0 || e % g != 0 || keep == 0 || keep > g || (g > 1 && e / g < 2) {
                return bad(format!(
                    "{e} experts cannot form {g} groups of at least two with {keep} kept"
                ));
            }
            if k == 0 || k > e / g * keep {
                return bad(format!(
                    "expert_used_count {k} must be in 1..={} ({keep} of {g} groups of {e} experts)",
                    e / g * keep
                ));
            }
        }
        for (name, shape) in self.tensor_shapes() {
            let t = f.tensor(&name).ok_or_else(|| ModelError::MissingTensor {
                file: file.clone(),
                name: name.clone(),
            })?;
            if t.shape != shape {
                return Err(ModelError::TensorShape {
                    file: file.clone(),
                    name,
                    found: t.shape.clone(),
                    expected: shape,
                });
            }
        }
        Ok(())
    }

    pub fn is_moe_layer(&self, il: usize) -> bool {
        il >= self.leading_dense_block_count
    }

    /// Every tensor the forward pass reads, with its shape (outermost first).
    pub fn tensor_shapes(&self) -> Vec<(String, Vec<usize>)> {
        let (h, v) = (self.embedding_length, self.vocab_size);
        let (nh, nkv, hd, hdv) = (self.head_count, self.head_count_kv, self.key_length, self.value_length);
        let mut out = vec![
            ("token_embd.weight".to_string(), vec![v, h]),
            ("output_norm.weight".to_string(), vec![h]),
            ("output.weight".to_string(), vec![v, h]),
        ];
        for il in 0..self.block_count {
            let mut t = |n: &str, s: Vec<usize>| out.push((format!("blk.{il}.{n}.weight"), s));
            t("attn_norm", vec![h]);
            t("attn_qkv", vec![nh * hd + nkv * hd + nkv * hdv, h]);
            t("attn_q_norm", vec![hd]);
            t("attn_k_norm", vec![hd]);
            t("attn_output", vec![h, nh * hdv]);
            t("ffn_norm", vec![h]);
            if !self.is_moe_layer(il) {
                let i = self.feed_forward_length;
                t("ffn_gate", vec![i, h]);
                t("ffn_up", vec![i, h]);
                t("ffn_down", vec![h, i]);
                continue;
            }
            let (e, ie, is) = (
                self.expert_count,
                self.expert_feed_forward_length,
                self.shared_feed_forward_length,
            );
            t("ffn_gate_inp", vec![e, h]);
            t("ffn_gate_exps", vec![e, ie, h]);
            t("ffn_up_exps", vec![e, ie, h]);
            t("ffn_down_exps", vec![e, h, ie]);
            if self.expert_shared_count > 0 {
                t("ffn_gate_shexp", vec![is, h]);
                t("ffn_up_shexp", vec![is, h]);
                t("ffn_down_shexp", vec![h, is]);
            }
            out.push((format!("blk.{il}.exp_probs_b.bias"), vec![e]));
        }
        out
    }
}
