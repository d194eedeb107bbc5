//! Bailing-MoE2 (Ling / Ring 2.0): hyperparameters from the `bailingmoe2.*` GGUF keys, checked
//! against the tensor shapes, and the unfused graph of the forward pass as the authors' PyTorch
//! code (`modeling_bailing_moe_v2.py`) defines it.
//!
//! Nothing here assumes what the released models happen to share: every size comes from a key
//! or a tensor shape. MTP / nextn blocks appended after `block_count` are not built.

mod hparams;

pub use hparams::{HParams, ModelError};

use lingot_ir::{DType, Graph, Op, Shape, Sym, TensorType, Value};

use crate::gguf::GgufFile;

/// What the graph returns besides the logits.
#[derive(Debug, Clone, Copy, Default)]
pub struct GraphOptions {
    /// Also output each MoE layer's chosen experts (`ffn_moe_topk.N`, `i32[t, k]`).
    pub routing: bool,
    /// Logits of one row only: before the output norm, the row `out_ids` (a graph input,
    /// `i32[1]`, normally `t - 1`) of the hidden state is selected, so `logits` is
    /// `f32[1, vocab]`. For generation and benchmarks, which only sample the last token.
    pub last_logits: bool,
}

/// Builds the forward pass. Inputs: `tokens` and `positions` (`i32[t]`), with
/// `opts.last_logits` also `out_ids` (`i32[1]`); outputs: `logits` (`f32[t, vocab]`, or
/// `f32[1, vocab]` with `last_logits`), then with `opts.routing` one `ffn_moe_topk.N` per MoE layer.
pub fn build_graph(hp: &HParams, f: &GgufFile, opts: GraphOptions) -> Result<Graph, ModelError> {
    let stored = |name: &str| {
        let t = f.tensor(name)?;
        Some(TensorType::new(t.dtype, Shape::new(t.shape.iter().map(|&d| d.into()))))
    };
    build(hp, &f.path().display().to_string(), &stored, opts)
}

/// [`build_graph`] without a file: `weight_type` gives each weight's stored type by GGUF name
/// (e.g. from [`HParams::tensor_shapes`] and a dtype choice), so a graph can be built, printed
/// and counted from hyperparameters alone.
pub fn build_graph_with(
    hp: &HParams,
    opts: GraphOptions,
    weight_type: impl Fn(&str) -> Option<TensorType>,
) -> Result<Graph, ModelError> {
    build(hp, "(weight types given by name)", &weight_type, opts)
}

fn build(
    hp: &HParams,
    file: &str,
    types: &dyn Fn(&str) -> Option<TensorType>,
    opts: GraphOptions,
) -> Result<Graph, ModelError> {
    let mut b = Builder {
        g: Graph::new(),
        file,
        types,
        hp,
    };
    let tokens =
        b.g.input("tokens", TensorType::new(DType::I32, Shape::new([Sym::T.into()])));
    let positions =
        b.g.input("positions", TensorType::new(DType::I32, Shape::new([Sym::T.into()])));
    let embd = b.weight("token_embd.weight")?;
    let mut h = b.g.push_named(Op::GetRows, &[embd, tokens], "inp_embd")?; // [t, H]
    let mut routes = vec![];
    for il in 0..hp.block_count {
        let x = b.norm(h, &format!("blk.{il}.attn_norm.weight"), &format!("attn_norm.{il}"))?;
        let a = b.attention(x, positions, il)?; // [t, H]
        let ffn_inp = b.g.push_named(Op::Add, &[h, a], format!("ffn_inp.{il}"))?;
        let y = b.norm(ffn_inp, &format!("blk.{il}.ffn_norm.weight"), &format!("ffn_norm.{il}"))?;
        let ffn = if hp.is_moe_layer(il) {
            let (out, topk) = b.moe(y, il)?;
            routes.push((topk, format!("ffn_moe_topk.{il}")));
            out
        } else {
            b.swiglu(y, &format!("blk.{il}.ffn_{{}}.weight"), &format!("ffn_{{}}.{il}"))?
        };
        h = b.g.push_named(Op::Add, &[ffn_inp, ffn], format!("l_out.{il}"))?; // [t, H]
    }
    if opts.last_logits {
        let out_ids =
            b.g.input("out_ids", TensorType::new(DType::I32, Shape::new([1.into()])));
        h = b.g.push_named(Op::GetRows, &[h, out_ids], "inp_out_ids")?; // [1, H]
    }
    let out = b.norm(h, "output_norm.weight", "result_norm")?;
    let w = b.weight("output.weight")?;
    let logits = b.g.push_named(Op::MulMat, &[w, out], "result_output")?; // [t, V]
    b.g.output(logits, "logits");
    if opts.routing {
        for (v, name) in routes {
            b.g.output(v, &name);
        }
    }
    Ok(b.g)
}

struct Builder<'a> {
    g: Graph,
    /// Where the weights come from, for errors.
    file: &'a str,
    types: &'a dyn Fn(&str) -> Option<TensorType>,
    hp: &'a HParams,
}

impl Builder<'_> {
    fn weight(&mut self, name: &str) -> Result<Value, ModelError> {
        let ty = (self.types)(name).ok_or_else(|| ModelError::MissingTensor {
            file: self.file.to_string(),
            name: name.into(),
        })?;
        Ok(self.g.weight(name, ty))
    }

    fn op(&mut self, op: Op, operands: &[Value]) -> Result<Value, ModelError> {
        Ok(self.g.push(op, operands)?.into())
    }

    /// `rms_norm(x) * weight`.
    fn norm(&mut self, x: Value, weight: &str, name: &str) -> Result<Value, ModelError> {
        let n = self.op(Op::RmsNorm { eps: self.hp.rms_eps }, &[x])?;
        let w = self.weight(weight)?;
        Ok(self.g.push_named(Op::Mul, &[n, w], name)?)
    }

    fn reshape(&mut self, x: Value, dims: &[lingot_ir::Dim]) -> Result<Value, ModelError> {
        self.op(
            Op::Reshape {
                shape: Shape::new(dims.iter().copied()),
            },
            &[x],
        )
    }

    /// Self-attention of block `il` on the normed input `x [t, H]`; returns `[t, H]`.
    fn attention(&mut self, x: Value, positions: Value, il: usize) -> Result<Value, ModelError> {
        let hp = self.hp;
        let (nh, nkv, hd, hdv) = (hp.head_count, hp.head_count_kv, hp.key_length, hp.value_length);
        let t = Sym::T.into();
        let w = self.weight(&format!("blk.{il}.attn_qkv.weight"))?;
        let qkv = self.g.push_named(Op::MulMat, &[w, x], format!("attn_qkv.{il}"))?; // [t, (nh + nkv) hd + nkv hdv]
                                                                                     // Fused rows: all Q heads, then all K heads, then all V heads.
        let q = self.op(
            Op::Slice {
                axis: 1,
                start: 0,
                len: nh * hd,
            },
            &[qkv],
        )?;
        let k = self.op(
            Op::Slice {
                axis: 1,
                start: nh * hd,
                len: nkv * hd,
            },
            &[qkv],
        )?;
        let v = self.op(
            Op::Slice {
                axis: 1,
                start: (nh + nkv) * hd,
                len: nkv * hdv,
            },
            &[qkv],
        )?;
        let q = self.reshape(q, &[t, nh.into(), hd.into()])?; // [t, nh, hd]
        let k = self.reshape(k, &[t, nkv.into(), hd.into()])?; // [t, nkv, hd]
        let v = self.reshape(v, &[t, nkv.into(), hdv.into()])?; // [t, nkv, hdv]
                                                                // QK-norm over each head, one shared weight, before RoPE.
        let q = self.norm(q, &format!("blk.{il}.attn_q_norm.weight"), &format!("Qcur_normed.{il}"))?;
        let k = self.norm(k, &format!("blk.{il}.attn_k_norm.weight"), &format!("Kcur_normed.{il}"))?;
        let rope = Op::Rope {
            n_rot: hp.rope_dimension_count,
            freq_base: hp.rope_freq_base,
            freq_scale: hp.rope_freq_scale,
        };
        let q = self.g.push_named(rope.clone(), &[q, positions], format!("Qcur.{il}"))?;
        let k = self.g.push_named(rope, &[k, positions], format!("Kcur.{il}"))?;
        let k_all = self.op(
            Op::KvWrite {
                cache: format!("k.{il}"),
            },
            &[k],
        )?; // [kv, nkv, hd]
        let v_all = self.op(
            Op::KvWrite {
                cache: format!("v.{il}"),
            },
            &[v],
        )?; // [kv, nkv, hdv]
        let scale = 1.0 / (hd as f32).sqrt();
        let a = self
            .g
            .push_named(Op::Attention { scale }, &[q, k_all, v_all], format!("kqv_out.{il}"))?; // [t, nh, hdv]
        let a = self.reshape(a, &[t, (nh * hdv).into()])?; // [t, nh hdv]
        let wo = self.weight(&format!("blk.{il}.attn_output.weight"))?;
        Ok(self.g.push_named(Op::MulMat, &[wo, a], format!("attn_out.{il}"))?) // [t, H]
    }

    /// `down · (silu(gate · y) ⊙ (up · y))`; `pattern` has `{}` where gate/up/down go.
    fn swiglu(&mut self, y: Value, pattern: &str, name: &str) -> Result<Value, ModelError> {
        let w = |p: &str| pattern.replace("{}", p);
        let (wg, wu, wd) = (
            self.weight(&w("gate"))?,
            self.weight(&w("up"))?,
            self.weight(&w("down"))?,
        );
        let gate = self.g.push_named(Op::MulMat, &[wg, y], name.replace("{}", "gate"))?;
        let up = self.g.push_named(Op::MulMat, &[wu, y], name.replace("{}", "up"))?;
        let act = self.op(Op::Silu, &[gate])?;
        let par = self.op(Op::Mul, &[act, up])?;
        Ok(self.g.push_named(Op::MulMat, &[wd, par], name.replace("{}", "down"))?)
    }

    /// The MoE FFN of block `il` on `y [t, H]`: returns the output `[t, H]` and the chosen experts.
    fn moe(&mut self, y: Value, il: usize) -> Result<(Value, Value), ModelError> {
        let hp = self.hp;
        let (h, k, t) = (hp.embedding_length, hp.expert_used_count, Sym::T.into());
        let w_inp = self.weight(&format!("blk.{il}.ffn_gate_inp.weight"))?;
        let logits = self
            .g
            .push_named(Op::MulMat, &[w_inp, y], format!("ffn_moe_logits.{il}"))?; // [t, E], f32 router
        let probs = self
            .g
            .push_named(Op::Sigmoid, &[logits], format!("ffn_moe_probs.{il}"))?;
        // The expert bias only chooses experts; the weights come from the unbiased scores.
        let bias = self.weight(&format!("blk.{il}.exp_probs_b.bias"))?;
        let mut choice = self
            .g
            .push_named(Op::Add, &[probs, bias], format!("ffn_moe_probs_biased.{il}"))?;
        if hp.expert_group_count > 1 {
            let mask = Op::GroupMask {
                groups: hp.expert_group_count,
                keep: hp.expert_group_used_count,
            };
            choice = self
                .g
                .push_named(mask, &[choice], format!("ffn_moe_group_masked.{il}"))?;
        }
        let topk = self
            .g
            .push_named(Op::TopK { k }, &[choice], format!("ffn_moe_topk.{il}"))?; // i32[t, k]
        let mut weights = self
            .g
            .push_named(Op::Gather, &[probs, topk], format!("ffn_moe_weights.{il}"))?; // [t, k]
        if hp.expert_weights_norm {
            let sum = self.op(Op::Sum { axis: 1 }, &[weights])?; // [t, 1]
            let sum = self.op(
                Op::Scale {
                    factor: 1.0,
                    bias: 1e-20,
                },
                &[sum],
            )?;
            weights = self
                .g
                .push_named(Op::Div, &[weights, sum], format!("ffn_moe_weights_norm.{il}"))?;
        }
        let scale = Op::Scale {
            factor: hp.expert_weights_scale,
            bias: 0.0,
        };
        let weights = self
            .g
            .push_named(scale, &[weights], format!("ffn_moe_weights_scaled.{il}"))?;

        let y3 = self.reshape(y, &[t, 1.into(), h.into()])?; // [t, 1, H]
        let wg = self.weight(&format!("blk.{il}.ffn_gate_exps.weight"))?;
        let wu = self.weight(&format!("blk.{il}.ffn_up_exps.weight"))?;
        let wd = self.weight(&format!("blk.{il}.ffn_down_exps.weight"))?;
        let gate = self
            .g
            .push_named(Op::MulMatId, &[wg, y3, topk], format!("ffn_moe_gate.{il}"))?; // [t, k, Ie]
        let up = self
            .g
            .push_named(Op::MulMatId, &[wu, y3, topk], format!("ffn_moe_up.{il}"))?; // [t, k, Ie]
        let act = self.op(Op::Silu, &[gate])?;
        let par = self.op(Op::Mul, &[act, up])?;
        let down = self
            .g
            .push_named(Op::MulMatId, &[wd, par, topk], format!("ffn_moe_down.{il}"))?; // [t, k, H]
        let w3 = self.reshape(weights, &[t, k.into(), 1.into()])?; // [t, k, 1]
        let weighted = self
            .g
            .push_named(Op::Mul, &[down, w3], format!("ffn_moe_weighted.{il}"))?; // [t, k, H]
        let sum = self.op(Op::Sum { axis: 1 }, &[weighted])?; // [t, 1, H]
        let mut out = self.reshape(sum, &[t, h.into()])?; // [t, H]
        if hp.expert_shared_count > 0 {
            let shared = self.swiglu(
                y,
                &format!("blk.{il}.ffn_{{}}_shexp.weight"),
                &format!("ffn_shexp_{{}}.{il}"),
            )?;
            out = self
                .g
                .push_named(Op::Add, &[out, shared], format!("ffn_moe_out.{il}"))?;
        }
        Ok((out, topk))
    }
}
