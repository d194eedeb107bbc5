//! The op set: the one place an op is declared.
//!
//! Ops follow ggml semantics where ggml has them (`get_rows`, `mul_mat`, `mul_mat_id`, `rms_norm`,
//! `rope`, ...), so llama.cpp knowledge transfers. Every axis argument counts from the outermost
//! dimension (shapes print outermost first); "last axis" is the contiguous one.
//!
//! The fused ops at the end exist only as outputs of passes; the model front-end never builds them.
//! Printer, parser, shape inference and every backend `match` on [`Op`] without a catch-all arm.

use crate::Shape;

/// An operation. Operand lists and result types are documented per variant; `x` means any float
/// tensor, and broadcasting follows numpy (align right, a dim of 1 stretches).
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// A graph input bound at execution: `tokens` and `positions` are `i32[t]`.
    Input {
        name: String,
    },
    /// A model weight, by its GGUF name, in its stored dtype.
    Weight {
        name: String,
    },

    /// `(table [V, H], ids i32[..]) -> f32[.., H]`: the rows of `table` named by `ids`, dequantized.
    GetRows,
    /// `(w [N, K], x [.., K]) -> f32[.., N]`: x · wᵀ, f32 accumulation, `w` in any dtype.
    MulMat,
    /// `(w [E, N, K], x [t, j, K], ids i32[t, k]) -> f32[t, k, N]` with `j` = 1 or `k`: for each token
    /// and slot, x (row 0 when j = 1, else row slot) times expert `ids[t, slot]` of `w`.
    MulMatId,
    /// Elementwise with broadcasting.
    Add,
    Mul,
    Div,
    /// `x * factor + bias` (ggml's `scale_bias`).
    Scale {
        factor: f32,
        bias: f32,
    },
    /// `x * sigmoid(x)`.
    Silu,
    Sigmoid,
    /// Softmax over the last axis.
    SoftMax,
    /// `x / sqrt(mean(x²) + eps)` over the last axis (no weight: multiply by one with `mul`).
    RmsNorm {
        eps: f32,
    },
    /// `(x [t, heads, d], positions i32[t]) -> [t, heads, d]`: NEOX RoPE on the first `n_rot` dims,
    /// pairs `(i, i + n_rot/2)`, angle `pos * freq_scale * freq_base^(-2i/n_rot)`; dims ≥ n_rot unchanged.
    Rope {
        n_rot: usize,
        freq_base: f32,
        freq_scale: f32,
    },
    /// Indices that sort the last axis (`descending`: largest first; ties keep the lower index first).
    Argsort {
        descending: bool,
    },
    /// `[.., n] -> i32[.., k]`: indices of the `k` largest along the last axis, largest first
    /// (ties: lower index first).
    TopK {
        k: usize,
    },
    /// `[t, E] -> [t, E]`, per token: split the E scores into `groups` groups of E/groups; score each
    /// group by the sum of its two largest scores; keep the `keep` best groups; others become -inf.
    GroupMask {
        groups: usize,
        keep: usize,
    },
    /// `(x [.., n], idx i32[.., k]) -> [.., k]`: `out[.., j] = x[.., idx[.., j]]` (torch.gather on the last axis).
    Gather,
    /// Sum over `axis`, which is kept with size 1.
    Sum {
        axis: usize,
    },
    /// Same elements, new shape (row-major order unchanged).
    Reshape {
        shape: Shape,
    },
    /// `len` entries of `axis` starting at `start`.
    Slice {
        axis: usize,
        start: usize,
        len: usize,
    },
    /// `(x [t, heads, d]) -> [kv, heads, d]`: writes the batch's rows into the KV cache named `cache`
    /// at positions kv - t .. kv, and yields everything the cache holds after that.
    KvWrite {
        cache: String,
    },
    /// `(q [t, heads, d], k [kv, kv_heads, d], v [kv, kv_heads, dv]) -> [t, heads, dv]`: causal
    /// attention, `softmax(q kᵀ * scale) v`; query i sits at position kv - t + i and sees keys up to
    /// it; head h uses KV head h / (heads / kv_heads).
    Attention {
        scale: f32,
    },

    // ---- fused ops: produced by passes only ----
    /// `(x, w) -> rms_norm(x) * w`.
    RmsNormMul {
        eps: f32,
    },
    /// `(a, b) -> silu(a) * b`.
    SwiGlu,
    /// `(logits f32[t, E], bias f32[E]) -> (ids i32[t, k], weights f32[t, k])`: sigmoid, bias for
    /// choosing, group mask, top-k; weights are the unbiased scores of the chosen experts, divided by
    /// their sum (+1e-20) when `norm`, times `scale`.
    MoeRouter {
        groups: usize,
        keep: usize,
        k: usize,
        norm: bool,
        scale: f32,
    },
    /// `(x [t, K], gate [E, N, K], up [E, N, K], ids i32[t, k]) -> f32[t, k, N]`:
    /// `silu(gate_e · x) * (up_e · x)` for each chosen expert e.
    MoeGateUp,
    /// `(h [t, k, K], down [E, N, K], ids i32[t, k], weights f32[t, k], addends..) -> f32[t, N]`:
    /// `Σ_j weights[j] · (down_{ids[j]} · h[j])`, plus every further operand (shared expert, residual).
    MoeDown,
    /// `(w [N, K], x [.., K], a [.., N]) -> f32[.., N]`: `w · x + a` (a projection and the
    /// residual added to it; `a` has the result's shape exactly).
    MulMatAdd,
    /// `(x [.., K], gate [N, K], up [N, K]) -> f32[.., N]`: `silu(gate · x) * (up · x)`, a dense
    /// SwiGLU's two products in one (`moe_gate_up` without the expert choice).
    GateUp,
    /// `(qkv [t, N], q_norm [d], k_norm [d], positions i32[t]) -> (q [t, heads, d], k [kv, kv_heads,
    /// d], v [kv, kv_heads, dv])`, with `N = (heads + kv_heads)·d + kv_heads·dv`: splits the fused
    /// QKV rows (all Q heads, then all K heads, then all V heads), applies QK-norm
    /// (`rms_norm · q_norm` / `k_norm` over each head) and NEOX RoPE (as `rope`) to q and k, and
    /// writes k and v into the KV caches `k_cache` and `v_cache` as `kv_write` does; k and v are
    /// everything those caches then hold.
    QkvNormRope {
        heads: usize,
        kv_heads: usize,
        eps: f32,
        n_rot: usize,
        freq_base: f32,
        freq_scale: f32,
        k_cache: String,
        v_cache: String,
    },
}

/// An attribute value as the text form shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    Int(usize),
    Float(f32),
    Bool(bool),
    Str(String),
    Shape(Shape),
}

impl std::hash::Hash for Attr {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        std::mem::discriminant(self).hash(h);
        match self {
            Attr::Int(n) => n.hash(h),
            Attr::Float(x) => x.to_bits().hash(h),
            Attr::Bool(b) => b.hash(h),
            Attr::Str(s) => s.hash(h),
            Attr::Shape(s) => s.hash(h),
        }
    }
}

/// Hashes what the text form shows: the name, an input's or weight's name, and the attributes
/// (floats by their bits), so ops equal under `==` hash alike.
impl std::hash::Hash for Op {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.name().hash(h);
        if let Op::Input { name } | Op::Weight { name } = self {
            name.hash(h);
        }
        for (key, value) in self.attrs() {
            key.hash(h);
            value.hash(h);
        }
    }
}

/// How many operands an op takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arity {
    Exactly(usize),
    AtLeast(usize),
}

impl Arity {
    pub fn accepts(self, n: usize) -> bool {
        match self {
            Arity::Exactly(m) => n == m,
            Arity::AtLeast(m) => n >= m,
        }
    }
}

impl Op {
    /// The op's text name, used by the printer and the parser alike.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input { .. } => "input",
            Op::Weight { .. } => "weight",
            Op::GetRows => "get_rows",
            Op::MulMat => "mul_mat",
            Op::MulMatId => "mul_mat_id",
            Op::Add => "add",
            Op::Mul => "mul",
            Op::Div => "div",
            Op::Scale { .. } => "scale",
            Op::Silu => "silu",
            Op::Sigmoid => "sigmoid",
            Op::SoftMax => "soft_max",
            Op::RmsNorm { .. } => "rms_norm",
            Op::Rope { .. } => "rope",
            Op::Argsort { .. } => "argsort",
            Op::TopK { .. } => "top_k",
            Op::GroupMask { .. } => "group_mask",
            Op::Gather => "gather",
            Op::Sum { .. } => "sum",
            Op::Reshape { .. } => "reshape",
            Op::Slice { .. } => "slice",
            Op::KvWrite { .. } => "kv_write",
            Op::Attention { .. } => "attention",
            Op::RmsNormMul { .. } => "rms_norm_mul",
            Op::SwiGlu => "swiglu",
            Op::MoeRouter { .. } => "moe_router",
            Op::MoeGateUp => "moe_gate_up",
            Op::MoeDown => "moe_down",
            Op::MulMatAdd => "mul_mat_add",
            Op::GateUp => "gate_up",
            Op::QkvNormRope { .. } => "qkv_norm_rope",
        }
    }

    pub fn arity(&self) -> Arity {
        use Arity::*;
        match self {
            Op::Input { .. } | Op::Weight { .. } => Exactly(0),
            Op::Scale { .. }
            | Op::Silu
            | Op::Sigmoid
            | Op::SoftMax
            | Op::RmsNorm { .. }
            | Op::Argsort { .. }
            | Op::TopK { .. }
            | Op::GroupMask { .. }
            | Op::Sum { .. }
            | Op::Reshape { .. }
            | Op::Slice { .. }
            | Op::KvWrite { .. } => Exactly(1),
            Op::GetRows
            | Op::MulMat
            | Op::Add
            | Op::Mul
            | Op::Div
            | Op::Rope { .. }
            | Op::Gather
            | Op::RmsNormMul { .. }
            | Op::SwiGlu
            | Op::MoeRouter { .. } => Exactly(2),
            Op::MulMatId | Op::Attention { .. } | Op::MulMatAdd | Op::GateUp => Exactly(3),
            Op::MoeGateUp | Op::QkvNormRope { .. } => Exactly(4),
            Op::MoeDown => AtLeast(4),
        }
    }

    /// Number of results (all ops have one but `moe_router` and `qkv_norm_rope`).
    pub fn num_results(&self) -> usize {
        match self {
            Op::MoeRouter { .. } => 2,
            Op::QkvNormRope { .. } => 3,
            _ => 1,
        }
    }

    /// Whether the op only exists as the output of a fusion pass.
    pub fn is_fused(&self) -> bool {
        matches!(
            self,
            Op::RmsNormMul { .. }
                | Op::SwiGlu
                | Op::MoeRouter { .. }
                | Op::MoeGateUp
                | Op::MoeDown
                | Op::MulMatAdd
                | Op::GateUp
                | Op::QkvNormRope { .. }
        )
    }

    /// Whether the op has an effect beyond its result (so dead-code elimination must keep it).
    pub fn has_side_effect(&self) -> bool {
        matches!(self, Op::KvWrite { .. } | Op::QkvNormRope { .. })
    }

    /// Attributes in the order the text form prints them. `input`/`weight` names are not
    /// attributes: they print as a quoted operand.
    pub fn attrs(&self) -> Vec<(&'static str, Attr)> {
        use Attr::*;
        match self {
            Op::Input { .. }
            | Op::Weight { .. }
            | Op::GetRows
            | Op::MulMat
            | Op::MulMatId
            | Op::Add
            | Op::Mul
            | Op::Div
            | Op::Silu
            | Op::Sigmoid
            | Op::SoftMax
            | Op::Gather
            | Op::SwiGlu
            | Op::MoeGateUp
            | Op::MoeDown
            | Op::MulMatAdd
            | Op::GateUp => vec![],
            Op::Scale { factor, bias } => vec![("factor", Float(*factor)), ("bias", Float(*bias))],
            Op::RmsNorm { eps } | Op::RmsNormMul { eps } => vec![("eps", Float(*eps))],
            Op::Rope {
                n_rot,
                freq_base,
                freq_scale,
            } => vec![
                ("n_rot", Int(*n_rot)),
                ("freq_base", Float(*freq_base)),
                ("freq_scale", Float(*freq_scale)),
            ],
            Op::Argsort { descending } => vec![("descending", Bool(*descending))],
            Op::TopK { k } => vec![("k", Int(*k))],
            Op::GroupMask { groups, keep } => vec![("groups", Int(*groups)), ("keep", Int(*keep))],
            Op::Sum { axis } => vec![("axis", Int(*axis))],
            Op::Reshape { shape } => vec![("shape", Shape(shape.clone()))],
            Op::Slice { axis, start, len } => {
                vec![("axis", Int(*axis)), ("start", Int(*start)), ("len", Int(*len))]
            }
            Op::KvWrite { cache } => vec![("cache", Str(cache.clone()))],
            Op::Attention { scale } => vec![("scale", Float(*scale))],
            Op::MoeRouter {
                groups,
                keep,
                k,
                norm,
                scale,
            } => vec![
                ("groups", Int(*groups)),
                ("keep", Int(*keep)),
                ("k", Int(*k)),
                ("norm", Bool(*norm)),
                ("scale", Float(*scale)),
            ],
            Op::QkvNormRope {
                heads,
                kv_heads,
                eps,
                n_rot,
                freq_base,
                freq_scale,
                k_cache,
                v_cache,
            } => vec![
                ("heads", Int(*heads)),
                ("kv_heads", Int(*kv_heads)),
                ("eps", Float(*eps)),
                ("n_rot", Int(*n_rot)),
                ("freq_base", Float(*freq_base)),
                ("freq_scale", Float(*freq_scale)),
                ("k_cache", Str(k_cache.clone())),
                ("v_cache", Str(v_cache.clone())),
            ],
        }
    }
}
