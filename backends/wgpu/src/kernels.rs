//! The kernel catalogue: every compute kernel the backend can emit, and the one place where WGSL
//! variants are made.
//!
//! A kernel is a template, `shaders/<family>.wgsl`. Its variants differ only through
//! [`assemble`], a two-rule text step:
//! - a prelude of `const` lines (workgroup size `WG`, op selectors such as `OP`) is put first;
//! - each line `//@include <name>` is replaced by a snippet: `bytes` (byte reads from u32 words),
//!   `dtype` (a weight reader from `shaders/dtype/`, one per GGUF dtype), `reduce` (workgroup
//!   reductions with subgroup operations or through workgroup memory), `first`, `groups`, `route`
//!   (the expert choice of moe_router and moe_route), `angles`,
//!   `tile` (the tiled product loop and entry point of mat_mul and mat_mul_id: `tile.wgsl`, or
//!   `split16.wgsl` + `tile_coop.wgsl` on devices with cooperative matrices), `tile_weights`
//!   (their weight reads), `xvec` (the mat-vec kernels' reads of x), `xnorm` (their x with a
//!   folded rms_norm_mul), `split16` (f32 values as two
//!   f16 parts, for attention_coop).
//! - cooperative-matrix variants get `enable f16; enable wgpu_cooperative_matrix;` first.
//!
//! Nothing else in the backend edits shader text. [`all_variants`] lists the final WGSL of every
//! variant, for the naga tests.

use lingot_ir::DType;

use crate::assemble::{assemble, Const};

/// Optional device features a variant may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Caps {
    /// Subgroup operations (`subgroupAdd`) in reductions.
    pub subgroups: bool,
    /// Devices with shader-f16: F16 weights convert with the hardware half->float instruction
    /// instead of integer decoding (see shaders/dtype/f16_native.wgsl).
    pub f16: bool,
    /// Cooperative matrices (16 x 16 x 16, f16 inputs, f32 accumulators) in subgroups of 32: the
    /// tiled products of every weight dtype but F32 (shaders/tile_coop.wgsl) and prefill
    /// attention (attention_coop.wgsl) run on them.
    pub coop: bool,
}

impl Caps {
    /// Every combination, for enumerating variants.
    pub fn all() -> Vec<Caps> {
        let mut v = vec![];
        for bits in 0..8u8 {
            v.push(Caps {
                subgroups: bits & 1 != 0,
                f16: bits & 2 != 0,
                coop: bits & 4 != 0,
            });
        }
        v
    }
}

/// Elementwise unary ops of `unary.wgsl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unary {
    Scale,
    Silu,
    Sigmoid,
}

/// Elementwise binary ops of `binary.wgsl`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Binary {
    Add,
    Mul,
    Div,
    SwiGlu,
}

/// Rows of x a mat-vec variant serves: `One` (a decode step: one accumulator per row, which the
/// compiler keeps in registers) or up to [`MAT_VEC_MAX_B`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum XRows {
    One,
    Few,
}

impl XRows {
    /// The variant for `rows` rows of x (at most [`MAT_VEC_MAX_B`]).
    pub fn of(rows: usize) -> XRows {
        if rows <= 1 {
            XRows::One
        } else {
            XRows::Few
        }
    }

    fn max_b(self) -> u32 {
        match self {
            XRows::One => 1,
            XRows::Few => MAT_VEC_MAX_B as u32,
        }
    }
}

/// One compute kernel (a template and its non-device choices). The `DType` ones read a weight in
/// that stored dtype; `I32` is not a weight dtype and has no reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    Dequant(DType),
    GetRows(DType),
    MatVec(DType, XRows),
    MatMul(DType),
    MatVecId(DType),
    MatMulId(DType),
    MoeGateUp(DType),
    MoeDown(DType),
    GateUp(DType, XRows),
    Unary(Unary),
    Binary(Binary),
    AddInto,
    RmsNorm {
        mul: bool,
    },
    SoftMax,
    Rope,
    Attention,
    AttentionTiled,
    /// attention_tiled's result on cooperative matrices (devices with `Caps::coop` only).
    AttentionCoop,
    AttentionMerge,
    Copy,
    Sum,
    Gather,
    TopK,
    Argsort {
        descending: bool,
    },
    GroupMask,
    MoeRouter,
    /// The router's logits (an f32 mat-vec) and moe_router's choice in one launch (decode).
    MoeRoute,
    NormRope,
    MoeSort,
    MoeCombine,
}

/// Rows of x up to which `mul_mat` uses the mat-vec kernel (`MAX_B` in mat_vec.wgsl).
pub const MAT_VEC_MAX_B: usize = 8;
/// Weight rows per workgroup of the mat-vec kernel (`NR` in mat_vec.wgsl).
pub const MAT_VEC_ROWS: usize = 4;
/// Experts `moe_router` handles (`MAX_E` in moe_router.wgsl).
pub const ROUTER_MAX_E: usize = 1024;
/// Experts per token `moe_router` chooses at most (`MAX_K` in moe_router.wgsl).
pub const ROUTER_MAX_K: usize = 256;
/// Groups `group_mask` and `moe_router` handle (`MAX_GROUPS` in groups.wgsl).
pub const MAX_GROUPS: usize = 256;
/// Head dims `attention` handles (`MAX_D`, and `4 * 32 * MAX_DV4_PER_LANE` for v, in attention.wgsl).
pub const ATTENTION_MAX_D: usize = 512;
/// Query rows per workgroup of `attention_tiled.wgsl` (`QR`), its keys per chunk (`KC`) and the
/// largest head dim it takes (`4 * MAXD4`).
pub const ATTENTION_TILE_ROWS: usize = 32;
pub const ATTENTION_TILE_KEYS: usize = 16;
pub const ATTENTION_TILE_MAX_D: usize = 128;
/// Workgroup memory `attention_tiled.wgsl` declares, in bytes.
pub const ATTENTION_TILE_SHARED: u32 =
    (16 * (ATTENTION_TILE_ROWS + ATTENTION_TILE_KEYS) * (ATTENTION_TILE_MAX_D / 4 + 1)
        + 4 * ATTENTION_TILE_ROWS * (ATTENTION_TILE_KEYS + 7)) as u32;
/// Workgroup memory attention_coop.wgsl declares, in bytes: hi and lo f16 parts of 32 query
/// rows and 32 keys (or values) of 136, and of 32 x 40 probabilities; 32 x 32 + 32 f32s.
pub const ATTENTION_COOP_SHARED: u32 = 2 * 2 * (2 * 32 * 136 + 32 * 40) + 4 * (32 * 32 + 32);
/// Tile of `mat_mul.wgsl` and `mat_mul_id.wgsl` (tile.wgsl): weight rows by rows of x. The
/// cooperative-matrix form (tile_coop.wgsl) takes [`MAT_MUL_COOP_ROWS`] weight rows by as many
/// rows of x (see [`Kernel::tile`]).
pub const MAT_MUL_TILE: (usize, usize) = (64, 64);
/// Weight rows of a tile_coop.wgsl tile (`TM` there).
pub const MAT_MUL_COOP_ROWS: usize = 128;
/// Workgroup memory tile_coop.wgsl declares, in bytes: hi and lo f16 parts of 128 weight rows and
/// 64 rows of x, 40 f16s each, and 64 x 64 f32 results.
pub const MAT_MUL_COOP_SHARED: u32 = 2 * 2 * (128 + 64) * 40 + 4 * 64 * 64;

/// The dtypes that have a weight reader.
pub const WEIGHT_DTYPES: [DType; 13] = [
    DType::F32,
    DType::F16,
    DType::BF16,
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

const BYTES: &str = include_str!("../../../shaders/bytes.wgsl");
const REDUCE_SHARED: &str = include_str!("../../../shaders/reduce_shared.wgsl");
const REDUCE_SUBGROUP: &str = include_str!("../../../shaders/reduce_subgroup.wgsl");
const FIRST: &str = include_str!("../../../shaders/first.wgsl");
const GROUPS: &str = include_str!("../../../shaders/groups.wgsl");
const ROUTE: &str = include_str!("../../../shaders/route.wgsl");
const XNORM: &str = include_str!("../../../shaders/xnorm.wgsl");
const ANGLES: &str = include_str!("../../../shaders/angles.wgsl");
const TILE: &str = include_str!("../../../shaders/tile.wgsl");
const TILE_COOP: &str = include_str!("../../../shaders/tile_coop.wgsl");
const TILE_WEIGHTS: &str = include_str!("../../../shaders/tile_weights.wgsl");
const SPLIT16: &str = include_str!("../../../shaders/split16.wgsl");
const XVEC: &str = include_str!("../../../shaders/xvec.wgsl");

/// The weight reader for `dtype`.
fn dtype_reader(dtype: DType, caps: Caps) -> Option<&'static str> {
    let src = match dtype {
        DType::F32 => include_str!("../../../shaders/dtype/f32.wgsl"),
        DType::F16 if caps.f16 => include_str!("../../../shaders/dtype/f16_native.wgsl"),
        DType::F16 => include_str!("../../../shaders/dtype/f16.wgsl"),
        DType::BF16 => include_str!("../../../shaders/dtype/bf16.wgsl"),
        DType::Q8_0 => include_str!("../../../shaders/dtype/q8_0.wgsl"),
        DType::Q4_0 => include_str!("../../../shaders/dtype/q4_0.wgsl"),
        DType::Q4_1 => include_str!("../../../shaders/dtype/q4_1.wgsl"),
        DType::Q5_0 => include_str!("../../../shaders/dtype/q5_0.wgsl"),
        DType::Q5_1 => include_str!("../../../shaders/dtype/q5_1.wgsl"),
        DType::Q2K => include_str!("../../../shaders/dtype/q2_k.wgsl"),
        DType::Q3K => include_str!("../../../shaders/dtype/q3_k.wgsl"),
        DType::Q4K => include_str!("../../../shaders/dtype/q4_k.wgsl"),
        DType::Q5K => include_str!("../../../shaders/dtype/q5_k.wgsl"),
        DType::Q6K => include_str!("../../../shaders/dtype/q6_k.wgsl"),
        DType::I32 => return None,
    };
    Some(src)
}

impl Kernel {
    /// The template file's stem (`mat_vec`).
    pub fn family(&self) -> &'static str {
        match self {
            Kernel::Dequant(_) => "dequant",
            Kernel::GetRows(_) => "get_rows",
            Kernel::MatVec(..) => "mat_vec",
            Kernel::MatMul(_) => "mat_mul",
            Kernel::MatVecId(_) => "mat_vec_id",
            Kernel::MatMulId(_) => "mat_mul_id",
            Kernel::MoeGateUp(_) => "moe_gate_up",
            Kernel::MoeDown(_) => "moe_down",
            Kernel::GateUp(..) => "gate_up",
            Kernel::Unary(_) => "unary",
            Kernel::Binary(_) => "binary",
            Kernel::AddInto => "add_into",
            Kernel::RmsNorm { .. } => "rms_norm",
            Kernel::SoftMax => "soft_max",
            Kernel::Rope => "rope",
            Kernel::Attention => "attention",
            Kernel::AttentionTiled => "attention_tiled",
            Kernel::AttentionCoop => "attention_coop",
            Kernel::AttentionMerge => "attention_merge",
            Kernel::Copy => "copy",
            Kernel::Sum => "sum",
            Kernel::Gather => "gather",
            Kernel::TopK => "top_k",
            Kernel::Argsort { .. } => "argsort",
            Kernel::GroupMask => "group_mask",
            Kernel::MoeRouter => "moe_router",
            Kernel::MoeRoute => "moe_route",
            Kernel::NormRope => "norm_rope",
            Kernel::MoeSort => "moe_sort",
            Kernel::MoeCombine => "moe_combine",
        }
    }

    fn template(&self) -> &'static str {
        match self {
            Kernel::Dequant(_) => include_str!("../../../shaders/dequant.wgsl"),
            Kernel::GetRows(_) => include_str!("../../../shaders/get_rows.wgsl"),
            Kernel::MatVec(..) => include_str!("../../../shaders/mat_vec.wgsl"),
            Kernel::MatMul(_) => include_str!("../../../shaders/mat_mul.wgsl"),
            Kernel::MatVecId(_) => include_str!("../../../shaders/mat_vec_id.wgsl"),
            Kernel::MatMulId(_) => include_str!("../../../shaders/mat_mul_id.wgsl"),
            Kernel::MoeGateUp(_) => include_str!("../../../shaders/moe_gate_up.wgsl"),
            Kernel::MoeDown(_) => include_str!("../../../shaders/moe_down.wgsl"),
            Kernel::GateUp(..) => include_str!("../../../shaders/gate_up.wgsl"),
            Kernel::Unary(_) => include_str!("../../../shaders/unary.wgsl"),
            Kernel::Binary(_) => include_str!("../../../shaders/binary.wgsl"),
            Kernel::AddInto => include_str!("../../../shaders/add_into.wgsl"),
            Kernel::RmsNorm { .. } => include_str!("../../../shaders/rms_norm.wgsl"),
            Kernel::SoftMax => include_str!("../../../shaders/soft_max.wgsl"),
            Kernel::Rope => include_str!("../../../shaders/rope.wgsl"),
            Kernel::Attention => include_str!("../../../shaders/attention.wgsl"),
            Kernel::AttentionTiled => include_str!("../../../shaders/attention_tiled.wgsl"),
            Kernel::AttentionCoop => include_str!("../../../shaders/attention_coop.wgsl"),
            Kernel::AttentionMerge => include_str!("../../../shaders/attention_merge.wgsl"),
            Kernel::Copy => include_str!("../../../shaders/copy.wgsl"),
            Kernel::Sum => include_str!("../../../shaders/sum.wgsl"),
            Kernel::Gather => include_str!("../../../shaders/gather.wgsl"),
            Kernel::TopK => include_str!("../../../shaders/top_k.wgsl"),
            Kernel::Argsort { .. } => include_str!("../../../shaders/argsort.wgsl"),
            Kernel::GroupMask => include_str!("../../../shaders/group_mask.wgsl"),
            Kernel::MoeRouter => include_str!("../../../shaders/moe_router.wgsl"),
            Kernel::MoeRoute => include_str!("../../../shaders/moe_route.wgsl"),
            Kernel::NormRope => include_str!("../../../shaders/norm_rope.wgsl"),
            Kernel::MoeSort => include_str!("../../../shaders/moe_sort.wgsl"),
            Kernel::MoeCombine => include_str!("../../../shaders/moe_combine.wgsl"),
        }
    }

    /// The weight dtype a kernel reads, if it reads one.
    pub fn weight_dtype(&self) -> Option<DType> {
        match self {
            Kernel::Dequant(d)
            | Kernel::GetRows(d)
            | Kernel::MatVec(d, _)
            | Kernel::MatMul(d)
            | Kernel::MatVecId(d)
            | Kernel::MatMulId(d)
            | Kernel::MoeGateUp(d)
            | Kernel::MoeDown(d)
            | Kernel::GateUp(d, _) => Some(*d),
            Kernel::Unary(_)
            | Kernel::Binary(_)
            | Kernel::AddInto
            | Kernel::RmsNorm { .. }
            | Kernel::SoftMax
            | Kernel::Rope
            | Kernel::Attention
            | Kernel::AttentionTiled
            | Kernel::AttentionCoop
            | Kernel::AttentionMerge
            | Kernel::Copy
            | Kernel::Sum
            | Kernel::Gather
            | Kernel::TopK
            | Kernel::Argsort { .. }
            | Kernel::GroupMask
            | Kernel::MoeRouter
            | Kernel::MoeRoute
            | Kernel::NormRope
            | Kernel::MoeSort
            | Kernel::MoeCombine => None,
        }
    }

    /// Whether the kernel has a reduction that may use subgroups.
    fn reduces(&self) -> bool {
        matches!(
            self,
            Kernel::MatVec(..)
                | Kernel::MatVecId(_)
                | Kernel::MoeGateUp(_)
                | Kernel::MoeDown(_)
                | Kernel::GateUp(..)
                | Kernel::RmsNorm { .. }
                | Kernel::SoftMax
                | Kernel::Attention
                | Kernel::NormRope
                | Kernel::MoeRoute
        )
    }

    /// The (weight rows, rows of x) of a workgroup's tile in mat_mul and mat_mul_id on a device
    /// with `caps`.
    pub fn tile(&self, caps: Caps) -> (usize, usize) {
        match self.effective_caps(caps).coop {
            true => (MAT_MUL_COOP_ROWS, MAT_MUL_TILE.1),
            false => MAT_MUL_TILE,
        }
    }

    /// Whether wgpu must zero the kernel's workgroup memory as each workgroup starts. Not for the
    /// tiled products and attention_coop: every element they read (staged values, results) is
    /// written before the barrier after which it is read, and zeroing would cost each workgroup a
    /// pass over 16-46 KiB.
    pub fn zero_workgroup_memory(&self) -> bool {
        !matches!(self, Kernel::MatMul(_) | Kernel::MatMulId(_) | Kernel::AttentionCoop)
    }

    /// Invocations per workgroup.
    pub fn workgroup_size(&self) -> u32 {
        match self {
            Kernel::MatMul(_) | Kernel::MatMulId(_) | Kernel::RmsNorm { .. } | Kernel::MoeSort | Kernel::MoeRouter => {
                256
            }
            // twice the invocations of a row group shorten each one's serial chain of loads
            Kernel::MatVec(..) | Kernel::MatVecId(_) | Kernel::MoeGateUp(_) | Kernel::GateUp(..) | Kernel::MoeRoute => {
                128
            }
            // a token's (slot, step) units: 9 x 32 for Ling-mini with its shared expert folded
            // in, two rounds at 256 where 128 took three (H100: see BENCHMARKS.md)
            Kernel::MoeDown(_) => 256,
            // four invocations per query row (QR in attention_tiled.wgsl)
            Kernel::AttentionTiled => 4 * ATTENTION_TILE_ROWS as u32,
            // four subgroups of 32 (attention_coop.wgsl)
            Kernel::AttentionCoop => 128,
            _ => 64,
        }
    }

    /// The storage bindings after the uniform parameters at binding 0: (read-only, read-write).
    pub fn bindings(&self) -> (u32, u32) {
        match self {
            Kernel::Dequant(_) => (1, 1),
            Kernel::GetRows(_) => (2, 1),
            // w, x, the addend, the folded norm's weight
            Kernel::MatVec(..) => (4, 1),
            Kernel::MatMul(_) => (3, 1),
            Kernel::GateUp(..) => (4, 1),
            Kernel::MatVecId(_) => (3, 1),
            Kernel::MatMulId(_) => (5, 1),
            Kernel::MoeSort => (1, 2),
            Kernel::MoeCombine => (5, 1),
            // gate, up, x, ids, the folded norm's weight, the shared expert's gate and up
            Kernel::MoeGateUp(_) => (7, 1),
            // w, h, ids, weights, two addends, the shared expert's down
            Kernel::MoeDown(_) => (7, 1),
            Kernel::Unary(_) | Kernel::AddInto | Kernel::SoftMax | Kernel::Copy | Kernel::Sum => (1, 1),
            Kernel::Binary(_) | Kernel::RmsNorm { .. } | Kernel::Gather => (2, 1),
            Kernel::Rope => (3, 1),
            // out, then the partials and per-row counters of split (decode) attention
            Kernel::Attention => (3, 3),
            Kernel::AttentionTiled | Kernel::AttentionCoop => (3, 1),
            Kernel::AttentionMerge => (1, 1),
            Kernel::TopK | Kernel::Argsort { .. } | Kernel::GroupMask => (1, 1),
            Kernel::MoeRouter => (2, 2),
            // w, x, the folded norm's weight, bias; logits, counter, ids, weights
            Kernel::MoeRoute => (4, 4),
            Kernel::NormRope => (5, 3),
        }
    }

    /// The prelude constants of this kernel.
    fn consts(&self) -> Vec<Const> {
        let mut c = vec![Const::U32("WG", self.workgroup_size())];
        match self {
            Kernel::Unary(op) => c.push(Const::U32("OP", *op as u32)),
            Kernel::Binary(op) => c.push(Const::U32("OP", *op as u32)),
            Kernel::RmsNorm { mul } => c.push(Const::Bool("MUL", *mul)),
            Kernel::Argsort { descending } => c.push(Const::Bool("DESCENDING", *descending)),
            Kernel::MatVec(_, rows) | Kernel::GateUp(_, rows) => c.push(Const::U32("MAX_B", rows.max_b())),
            Kernel::Dequant(_)
            | Kernel::GetRows(_)
            | Kernel::MatMul(_)
            | Kernel::MatVecId(_)
            | Kernel::MatMulId(_)
            | Kernel::MoeGateUp(_)
            | Kernel::MoeDown(_)
            | Kernel::AddInto
            | Kernel::SoftMax
            | Kernel::Rope
            | Kernel::Attention
            | Kernel::AttentionTiled
            | Kernel::AttentionCoop
            | Kernel::AttentionMerge
            | Kernel::Copy
            | Kernel::Sum
            | Kernel::Gather
            | Kernel::TopK
            | Kernel::GroupMask
            | Kernel::MoeRouter
            | Kernel::MoeRoute
            | Kernel::NormRope
            | Kernel::MoeSort
            | Kernel::MoeCombine => {}
        }
        c
    }

    /// The caps that change this kernel's text (others are ignored, so variants are not repeated).
    pub fn effective_caps(&self, caps: Caps) -> Caps {
        Caps {
            subgroups: caps.subgroups && self.reduces(),
            f16: caps.f16 && self.weight_dtype() == Some(DType::F16),
            coop: caps.coop && (self.coop_tiles() || self.needs_coop()),
        }
    }

    /// Whether the kernel exists only on devices with cooperative matrices.
    pub fn needs_coop(&self) -> bool {
        matches!(self, Kernel::AttentionCoop)
    }

    /// Whether the kernel's tiled products run on cooperative matrices where the device has
    /// them: mat_mul and mat_mul_id of every weight dtype but F32, whose 24 bits the two f16
    /// parts of tile_coop.wgsl do not hold.
    fn coop_tiles(&self) -> bool {
        matches!(self, Kernel::MatMul(d) | Kernel::MatMulId(d) if *d != DType::F32)
    }

    /// The final WGSL of this kernel on a device with `caps`.
    pub fn wgsl(&self, caps: Caps) -> Result<String, String> {
        let caps = self.effective_caps(caps);
        let mut snippets: Vec<(&str, &str)> = vec![];
        if let Some(dtype) = self.weight_dtype() {
            let reader = dtype_reader(dtype, caps).ok_or_else(|| format!("no {dtype} weight reader"))?;
            snippets.push(("bytes", BYTES));
            snippets.push(("dtype", reader));
        }
        if self.reduces() {
            snippets.push(("reduce", if caps.subgroups { REDUCE_SUBGROUP } else { REDUCE_SHARED }));
        }
        if matches!(self, Kernel::TopK | Kernel::MoeRouter | Kernel::MoeRoute) {
            snippets.push(("first", FIRST));
        }
        if matches!(self, Kernel::GroupMask | Kernel::MoeRouter | Kernel::MoeRoute) {
            snippets.push(("groups", GROUPS));
        }
        if matches!(self, Kernel::MoeRouter | Kernel::MoeRoute) {
            snippets.push(("route", ROUTE));
        }
        if matches!(self, Kernel::Rope | Kernel::NormRope) {
            snippets.push(("angles", ANGLES));
        }
        let tile_coop = format!("{SPLIT16}\n{TILE_COOP}");
        if matches!(self, Kernel::MatMul(_) | Kernel::MatMulId(_)) {
            snippets.push(("tile", if caps.coop { &tile_coop } else { TILE }));
            snippets.push(("tile_weights", TILE_WEIGHTS));
        }
        if matches!(
            self,
            Kernel::MatVec(..) | Kernel::MatVecId(_) | Kernel::MoeGateUp(_) | Kernel::MoeDown(_) | Kernel::GateUp(..)
        ) {
            snippets.push(("xvec", XVEC));
        }
        if matches!(
            self,
            Kernel::MatVec(..) | Kernel::MoeGateUp(_) | Kernel::GateUp(..) | Kernel::MoeRoute
        ) {
            snippets.push(("xnorm", XNORM));
        }
        if matches!(self, Kernel::AttentionCoop) {
            snippets.push(("split16", SPLIT16));
        }
        let text = assemble(self.template(), &self.consts(), &snippets)?;
        Ok(match caps.coop {
            // enable directives come before any declaration
            true => format!("enable f16;\nenable wgpu_cooperative_matrix;\n{text}"),
            false => text,
        })
    }

    /// A readable name of the variant (`mat_vec.q4_k+subgroups`; `.b8` after the dtype for the
    /// mat-vecs that serve up to eight rows of x).
    pub fn label(&self, caps: Caps) -> String {
        let caps = self.effective_caps(caps);
        let mut s = self.family().to_string();
        match self {
            Kernel::Unary(op) => s.push_str(&format!(".{op:?}").to_lowercase()),
            Kernel::Binary(op) => s.push_str(&format!(".{op:?}").to_lowercase()),
            Kernel::RmsNorm { mul: true } => s.push_str(".mul"),
            Kernel::Argsort { descending: true } => s.push_str(".desc"),
            _ => {}
        }
        if let Some(d) = self.weight_dtype() {
            s.push('.');
            s.push_str(d.name());
        }
        if let Kernel::MatVec(_, XRows::Few) | Kernel::GateUp(_, XRows::Few) = self {
            s.push_str(".b8");
        }
        if caps.subgroups {
            s.push_str("+subgroups");
        }
        if caps.f16 {
            s.push_str("+f16");
        }
        if caps.coop {
            s.push_str("+coop");
        }
        s
    }

    /// Every kernel (not yet specialised to caps).
    pub fn all() -> Vec<Kernel> {
        let mut v = vec![];
        for d in WEIGHT_DTYPES {
            v.extend([
                Kernel::Dequant(d),
                Kernel::GetRows(d),
                Kernel::MatVec(d, XRows::One),
                Kernel::MatVec(d, XRows::Few),
                Kernel::MatMul(d),
                Kernel::MatVecId(d),
                Kernel::MatMulId(d),
                Kernel::MoeGateUp(d),
                Kernel::MoeDown(d),
                Kernel::GateUp(d, XRows::One),
                Kernel::GateUp(d, XRows::Few),
            ]);
        }
        for op in [Unary::Scale, Unary::Silu, Unary::Sigmoid] {
            v.push(Kernel::Unary(op));
        }
        for op in [Binary::Add, Binary::Mul, Binary::Div, Binary::SwiGlu] {
            v.push(Kernel::Binary(op));
        }
        v.extend([
            Kernel::AddInto,
            Kernel::RmsNorm { mul: false },
            Kernel::RmsNorm { mul: true },
            Kernel::SoftMax,
            Kernel::Rope,
            Kernel::Attention,
            Kernel::AttentionTiled,
            Kernel::AttentionCoop,
            Kernel::AttentionMerge,
            Kernel::Copy,
            Kernel::Sum,
            Kernel::Gather,
            Kernel::TopK,
            Kernel::Argsort { descending: false },
            Kernel::Argsort { descending: true },
            Kernel::GroupMask,
            Kernel::MoeRouter,
            Kernel::MoeRoute,
            Kernel::NormRope,
            Kernel::MoeSort,
            Kernel::MoeCombine,
        ]);
        v
    }
}

/// One shader variant the backend can emit.
#[derive(Debug, Clone)]
pub struct ShaderVariant {
    pub label: String,
    pub kernel: Kernel,
    pub caps: Caps,
    pub wgsl: String,
}

/// The final WGSL of every variant the backend can emit, on any device (each distinct text once).
pub fn all_variants() -> Result<Vec<ShaderVariant>, String> {
    let mut out: Vec<ShaderVariant> = vec![];
    for kernel in Kernel::all() {
        for caps in Caps::all() {
            let caps = kernel.effective_caps(caps);
            if (kernel.needs_coop() && !caps.coop) || out.iter().any(|v| v.kernel == kernel && v.caps == caps) {
                continue;
            }
            let wgsl = kernel.wgsl(caps).map_err(|e| format!("{}: {e}", kernel.label(caps)))?;
            out.push(ShaderVariant {
                label: kernel.label(caps),
                kernel,
                caps,
                wgsl,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_weight_dtype_has_a_reader() {
        for d in DType::ALL {
            assert_eq!(dtype_reader(d, Caps::default()).is_some(), d != DType::I32, "{d}");
        }
        assert_eq!(WEIGHT_DTYPES.len(), DType::ALL.len() - 1);
    }
}
