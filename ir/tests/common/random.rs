//! Random valid graphs: each step picks an op, finds (or makes) operands whose types fit it, and
//! adds it with `Graph::push`, which infers the result types. Fresh operands are `input` or
//! `weight` nodes of the needed type; existing values of that type are reused most of the time,
//! so graphs get shared values and long chains.

use lingot_ir::{DType, Dim, Graph, Op, Shape, Sym, TensorType, Value};
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};

const FLOATS: [DType; 3] = [DType::F32, DType::F16, DType::BF16];

/// Debug names chosen from here exercise escapes, `;` and non-ASCII text.
const NAMES: [&str; 8] = [
    "ffn_moe_topk.3",
    "attn_qkv.0",
    "a;b",
    "quote\"d",
    "tab\there",
    "ünï ☃",
    "ctl\u{1}",
    "",
];

pub struct Gen {
    rng: StdRng,
    pub g: Graph,
    pool: Vec<Value>,
    fresh: usize,
}

/// A valid random graph from `seed` with about `steps` ops, some named, with 1 to 3 outputs.
pub fn graph(seed: u64, steps: usize) -> Graph {
    let mut gen = Gen {
        rng: StdRng::seed_from_u64(seed),
        g: Graph::new(),
        pool: vec![],
        fresh: 0,
    };
    for _ in 0..steps {
        gen.step();
    }
    for i in 0..gen.rng.random_range(1..=3) {
        let v = *gen.pool.choose(&mut gen.rng).expect("the first step adds values");
        gen.g.output(v, &format!("out{i}"));
    }
    gen.g
}

impl Gen {
    fn ty(&self, v: Value) -> TensorType {
        self.g.ty(v).clone()
    }

    fn step(&mut self) {
        let (op, operands) = self.random_op();
        let id = self
            .g
            .push(op.clone(), &operands)
            .unwrap_or_else(|e| panic!("generator built a bad {op:?}: {e}"));
        if self.rng.random_bool(0.3) {
            self.g.node_mut(id).name = Some(NAMES.choose(&mut self.rng).copied().unwrap_or("x").to_string());
        }
        for index in 0..op.num_results() as u32 {
            self.pool.push(Value { node: id, index });
        }
    }

    fn random_op(&mut self) -> (Op, Vec<Value>) {
        match self.rng.random_range(0..20) {
            0 => self.elementwise(),
            1 => self.unary(),
            2 => self.get_rows(),
            3 => self.mul_mat(),
            4 => self.mul_mat_id(),
            5 => self.rope(),
            6 => self.sort(),
            7 => self.group_mask(),
            8 => self.gather(),
            9 => self.sum(),
            10 => self.reshape(),
            11 => self.slice(),
            12 => self.kv_write(),
            13 => self.attention(),
            14 => self.rms_norm_mul(),
            15 => self.moe_router(),
            16 => self.moe_gate_up(),
            17 => self.moe_down(),
            18 => match self.rng.random_range(0..3) {
                0 => self.mul_mat_add(),
                1 => self.gate_up(),
                _ => self.qkv_norm_rope(),
            },
            _ => self.elementwise(),
        }
    }

    // ---- building blocks ----

    fn cdim(&mut self) -> usize {
        *[1, 2, 3, 4, 8, 16, 32].choose(&mut self.rng).unwrap_or(&1)
    }

    fn dim(&mut self) -> Dim {
        if self.rng.random_bool(0.25) {
            Dim::Sym(Sym::T)
        } else {
            Dim::Const(self.cdim())
        }
    }

    fn float_dtype(&mut self) -> DType {
        *FLOATS.choose(&mut self.rng).unwrap_or(&DType::F32)
    }

    fn any_dtype(&mut self) -> DType {
        *DType::ALL.choose(&mut self.rng).unwrap_or(&DType::F32)
    }

    /// A float attribute: a familiar value, or any bit pattern (NaN and infinities included).
    fn float(&mut self) -> f32 {
        if self.rng.random_bool(0.5) {
            *[1e-6, 0.5, 2.5, 10000.0, -0.0, f32::INFINITY, 0.1]
                .choose(&mut self.rng)
                .unwrap_or(&1.0)
        } else {
            f32::from_bits(self.rng.random())
        }
    }

    fn new_value(&mut self, ty: TensorType) -> Value {
        self.fresh += 1;
        let v = if self.rng.random_bool(0.5) {
            self.g.input(&format!("in{}", self.fresh), ty)
        } else {
            self.g.weight(&format!("blk.{}.w \"q\"", self.fresh), ty)
        };
        self.pool.push(v);
        v
    }

    /// A value of exactly type `ty`: an existing one most of the time if there is one.
    fn operand(&mut self, ty: TensorType) -> Value {
        let same: Vec<Value> = self.pool.iter().copied().filter(|v| *self.g.ty(*v) == ty).collect();
        match same.choose(&mut self.rng) {
            Some(v) if self.rng.random_bool(0.7) => *v,
            _ => self.new_value(ty),
        }
    }

    /// An existing value whose type satisfies `ok`, else a fresh one of type `make()`.
    fn pick(&mut self, ok: impl Fn(&TensorType) -> bool, make: impl FnOnce(&mut Self) -> TensorType) -> Value {
        let fits: Vec<Value> = self.pool.iter().copied().filter(|v| ok(self.g.ty(*v))).collect();
        match fits.choose(&mut self.rng) {
            Some(v) if self.rng.random_bool(0.8) => *v,
            _ => {
                let ty = make(self);
                self.new_value(ty)
            }
        }
    }

    /// A float value of rank >= `rank` whose dims from `rank` on don't matter.
    fn float_value(&mut self, min_rank: usize) -> Value {
        self.pick(
            |t| t.dtype != DType::I32 && t.shape.rank() >= min_rank,
            |s| {
                let rank = s.rng.random_range(min_rank.max(1)..=3);
                let dims: Vec<Dim> = (0..rank).map(|_| s.dim()).collect();
                TensorType::new(s.float_dtype(), Shape(dims))
            },
        )
    }

    /// A float value with a constant last dim, of the given rank.
    fn float_rank_const_last(&mut self, rank: usize) -> Value {
        self.pick(
            move |t| t.dtype != DType::I32 && t.shape.rank() == rank && matches!(t.shape.last(), Some(Dim::Const(_))),
            move |s| {
                let mut dims: Vec<Dim> = (0..rank - 1).map(|_| s.dim()).collect();
                dims.push(Dim::Const(s.cdim()));
                TensorType::new(s.float_dtype(), Shape(dims))
            },
        )
    }

    // ---- one builder per op family ----

    fn elementwise(&mut self) -> (Op, Vec<Value>) {
        let a = self.float_value(0);
        let mut dims = self.ty(a).shape.0;
        let drop = self.rng.random_range(0..=dims.len());
        dims.drain(..drop);
        for d in dims.iter_mut() {
            if self.rng.random_bool(0.2) {
                *d = Dim::Const(1);
            }
        }
        let dtype = self.float_dtype();
        let b = self.operand(TensorType::new(dtype, Shape(dims)));
        let op = [Op::Add, Op::Mul, Op::Div, Op::SwiGlu]
            .choose(&mut self.rng)
            .cloned()
            .unwrap_or(Op::Add);
        if self.rng.random_bool(0.5) {
            (op, vec![a, b])
        } else {
            (op, vec![b, a])
        }
    }

    fn unary(&mut self) -> (Op, Vec<Value>) {
        let a = self.float_value(1);
        let op = match self.rng.random_range(0..5) {
            0 => Op::Scale {
                factor: self.float(),
                bias: self.float(),
            },
            1 => Op::Silu,
            2 => Op::Sigmoid,
            3 => Op::SoftMax,
            _ => Op::RmsNorm { eps: self.float() },
        };
        (op, vec![a])
    }

    fn rms_norm_mul(&mut self) -> (Op, Vec<Value>) {
        let a = self.float_value(1);
        let last = self.ty(a).shape.last().unwrap_or(Dim::Const(1));
        let w = self.operand(TensorType::new(DType::F32, Shape(vec![last])));
        (Op::RmsNormMul { eps: self.float() }, vec![a, w])
    }

    fn get_rows(&mut self) -> (Op, Vec<Value>) {
        let ids = self.pick(
            |t| t.dtype == DType::I32,
            |_| TensorType::new(DType::I32, Shape(vec![Dim::Sym(Sym::T)])),
        );
        let (v, h, dtype) = (self.cdim(), self.cdim(), self.any_dtype());
        let table = self.operand(TensorType::new(dtype, Shape(vec![Dim::Const(v * 10), Dim::Const(h)])));
        (Op::GetRows, vec![table, ids])
    }

    fn mul_mat(&mut self) -> (Op, Vec<Value>) {
        let rank = self.rng.random_range(1..=3);
        let x = self.float_rank_const_last(rank);
        let k = self.ty(x).shape.last().unwrap_or(Dim::Const(1));
        let (n, dtype) = (self.cdim(), self.any_dtype());
        let w = self.operand(TensorType::new(dtype, Shape(vec![Dim::Const(n), k])));
        (Op::MulMat, vec![w, x])
    }

    /// `[t, k]` expert ids.
    fn ids(&mut self, t: Dim, k: Dim) -> Value {
        self.operand(TensorType::new(DType::I32, Shape(vec![t, k])))
    }

    fn mul_mat_id(&mut self) -> (Op, Vec<Value>) {
        let ids = self.pick(
            |t| t.dtype == DType::I32 && t.shape.rank() == 2,
            |s| TensorType::new(DType::I32, Shape(vec![Dim::Sym(Sym::T), Dim::Const(s.cdim())])),
        );
        let [t, k] = [self.ty(ids).shape.0[0], self.ty(ids).shape.0[1]];
        let j = if self.rng.random_bool(0.5) { Dim::Const(1) } else { k };
        let kk = Dim::Const(self.cdim());
        let dtype = self.float_dtype();
        let x = self.operand(TensorType::new(dtype, Shape(vec![t, j, kk])));
        let (e, n, wd) = (self.cdim(), self.cdim(), self.any_dtype());
        let w = self.operand(TensorType::new(wd, Shape(vec![Dim::Const(e), Dim::Const(n), kk])));
        (Op::MulMatId, vec![w, x, ids])
    }

    fn rope(&mut self) -> (Op, Vec<Value>) {
        let x = self.float_rank_const_last(3);
        let d = self.ty(x).shape.last().and_then(Dim::as_const).unwrap_or(0);
        let n_rot = 2 * self.rng.random_range(0..=d / 2);
        let pos = self.operand(TensorType::new(DType::I32, Shape(vec![self.ty(x).shape.0[0]])));
        (
            Op::Rope {
                n_rot,
                freq_base: self.float(),
                freq_scale: self.float(),
            },
            vec![x, pos],
        )
    }

    fn sort(&mut self) -> (Op, Vec<Value>) {
        let rank = self.rng.random_range(1..=3);
        let x = self.float_rank_const_last(rank);
        let n = self.ty(x).shape.last().and_then(Dim::as_const).unwrap_or(1);
        if self.rng.random_bool(0.5) {
            (
                Op::Argsort {
                    descending: self.rng.random_bool(0.5),
                },
                vec![x],
            )
        } else {
            (
                Op::TopK {
                    k: self.rng.random_range(1..=n),
                },
                vec![x],
            )
        }
    }

    /// Some valid `(groups, keep)` for `e` experts, if any.
    fn groups(&mut self, e: usize) -> Option<(usize, usize)> {
        let ok: Vec<usize> = (1..=e)
            .filter(|g| e.is_multiple_of(*g) && (*g == 1 || e / g >= 2))
            .collect();
        let groups = *ok.choose(&mut self.rng)?;
        Some((groups, self.rng.random_range(1..=groups)))
    }

    /// An `f32[t, E]` score value with `E` >= 2.
    fn scores(&mut self) -> Value {
        self.pick(
            |t| t.dtype == DType::F32 && t.shape.rank() == 2 && matches!(t.shape.0[1], Dim::Const(e) if e >= 2),
            |s| {
                let e = *[4, 8, 16].choose(&mut s.rng).unwrap_or(&4);
                TensorType::new(DType::F32, Shape(vec![Dim::Sym(Sym::T), Dim::Const(e)]))
            },
        )
    }

    fn group_mask(&mut self) -> (Op, Vec<Value>) {
        let x = self.scores();
        let e = self.ty(x).shape.0[1].as_const().unwrap_or(2);
        let (groups, keep) = self.groups(e).unwrap_or((1, 1));
        (Op::GroupMask { groups, keep }, vec![x])
    }

    fn gather(&mut self) -> (Op, Vec<Value>) {
        let x = self.float_value(1);
        let mut dims = self.ty(x).shape.0;
        if let Some(last) = dims.last_mut() {
            *last = Dim::Const(self.cdim());
        }
        let idx = self.operand(TensorType::new(DType::I32, Shape(dims)));
        (Op::Gather, vec![x, idx])
    }

    fn sum(&mut self) -> (Op, Vec<Value>) {
        let x = self.float_value(1);
        let axis = self.rng.random_range(0..self.ty(x).shape.rank());
        (Op::Sum { axis }, vec![x])
    }

    /// Permutes the dims, then maybe merges two adjacent constants or splits one.
    fn reshape(&mut self) -> (Op, Vec<Value>) {
        let x = match self.pool.choose(&mut self.rng).copied() {
            Some(v) => v,
            None => self.float_value(1),
        };
        let mut dims = self.ty(x).shape.0;
        dims.shuffle(&mut self.rng);
        let i = self.rng.random_range(0..dims.len().max(1));
        match (dims.get(i).copied(), dims.get(i + 1).copied()) {
            (Some(Dim::Const(a)), Some(Dim::Const(b))) if self.rng.random_bool(0.5) => {
                dims.splice(i..i + 2, [Dim::Const(a * b)]);
            }
            (Some(Dim::Const(a)), _) if a % 2 == 0 => {
                dims.splice(i..i + 1, [Dim::Const(2), Dim::Const(a / 2)]);
            }
            _ => {}
        }
        (Op::Reshape { shape: Shape(dims) }, vec![x])
    }

    fn slice(&mut self) -> (Op, Vec<Value>) {
        let x = self.pick(
            |t| t.shape.0.iter().any(|d| matches!(d, Dim::Const(n) if *n >= 1)),
            |s| TensorType::new(s.any_dtype(), Shape(vec![Dim::Sym(Sym::T), Dim::Const(s.cdim())])),
        );
        let dims = self.ty(x).shape.0;
        let axes: Vec<usize> = (0..dims.len())
            .filter(|&a| matches!(dims[a], Dim::Const(n) if n >= 1))
            .collect();
        let axis = *axes.choose(&mut self.rng).unwrap_or(&0);
        let n = dims[axis].as_const().unwrap_or(1);
        let start = self.rng.random_range(0..n);
        let len = self.rng.random_range(1..=n - start);
        (Op::Slice { axis, start, len }, vec![x])
    }

    fn kv_write(&mut self) -> (Op, Vec<Value>) {
        let x = self.pick(
            |t| t.shape.rank() == 3 && t.shape.0[0] == Dim::Sym(Sym::T),
            |s| {
                let (h, d) = (s.cdim(), s.cdim());
                TensorType::new(DType::F32, Shape(vec![Dim::Sym(Sym::T), Dim::Const(h), Dim::Const(d)]))
            },
        );
        let cache = format!("cache.{}", self.rng.random_range(0..4));
        (Op::KvWrite { cache }, vec![x])
    }

    fn attention(&mut self) -> (Op, Vec<Value>) {
        let q = self.pick(
            |t| t.dtype != DType::I32 && t.shape.rank() == 3 && matches!(t.shape.0[1], Dim::Const(h) if h >= 1),
            |s| {
                let (h, d) = (s.cdim(), s.cdim());
                TensorType::new(DType::F32, Shape(vec![Dim::Sym(Sym::T), Dim::Const(h), Dim::Const(d)]))
            },
        );
        let qs = self.ty(q).shape.0;
        let h = qs[1].as_const().unwrap_or(1);
        let divisors: Vec<usize> = (1..=h).filter(|d| h.is_multiple_of(*d)).collect();
        let hk = Dim::Const(*divisors.choose(&mut self.rng).unwrap_or(&1));
        let kv = Dim::Sym(Sym::Kv);
        let dv = Dim::Const(self.cdim());
        let k = self.operand(TensorType::new(DType::F32, Shape(vec![kv, hk, qs[2]])));
        let v = self.operand(TensorType::new(DType::F32, Shape(vec![kv, hk, dv])));
        (Op::Attention { scale: self.float() }, vec![q, k, v])
    }

    fn moe_router(&mut self) -> (Op, Vec<Value>) {
        let logits = self.scores();
        let e = self.ty(logits).shape.0[1];
        let bias = self.operand(TensorType::new(DType::F32, Shape(vec![e])));
        let n = e.as_const().unwrap_or(2);
        let (groups, keep) = self.groups(n).unwrap_or((1, 1));
        let k = self.rng.random_range(1..=n);
        let op = Op::MoeRouter {
            groups,
            keep,
            k,
            norm: self.rng.random_bool(0.5),
            scale: self.float(),
        };
        (op, vec![logits, bias])
    }

    fn moe_gate_up(&mut self) -> (Op, Vec<Value>) {
        let x = self.float_rank_const_last(2);
        let [t, kk] = [self.ty(x).shape.0[0], self.ty(x).shape.0[1]];
        let (e, n, k) = (self.cdim(), self.cdim(), self.cdim());
        let w = Shape(vec![Dim::Const(e), Dim::Const(n), kk]);
        let (gd, ud) = (self.any_dtype(), self.any_dtype());
        let gate = self.operand(TensorType::new(gd, w.clone()));
        let up = self.operand(TensorType::new(ud, w));
        let ids = self.ids(t, Dim::Const(k));
        (Op::MoeGateUp, vec![x, gate, up, ids])
    }

    fn mul_mat_add(&mut self) -> (Op, Vec<Value>) {
        let (_, ops) = self.mul_mat();
        let mut s = self.ty(ops[1]).shape.clone();
        if let Some(l) = s.0.last_mut() {
            *l = self.ty(ops[0]).shape.0[0];
        }
        let dtype = self.float_dtype();
        let a = self.operand(TensorType::new(dtype, s));
        (Op::MulMatAdd, vec![ops[0], ops[1], a])
    }

    fn gate_up(&mut self) -> (Op, Vec<Value>) {
        let (_, ops) = self.mul_mat();
        let dtype = self.any_dtype();
        let up = self.operand(TensorType::new(dtype, self.ty(ops[0]).shape));
        (Op::GateUp, vec![ops[1], ops[0], up])
    }

    fn qkv_norm_rope(&mut self) -> (Op, Vec<Value>) {
        let (heads, kv_heads, d, dv) = (self.cdim(), self.cdim(), self.cdim(), self.cdim());
        let n = (heads + kv_heads) * d + kv_heads * dv;
        let (xd, qd, kd) = (self.float_dtype(), self.float_dtype(), self.float_dtype());
        let qkv = self.operand(TensorType::new(xd, Shape(vec![Dim::Sym(Sym::T), Dim::Const(n)])));
        let qn = self.operand(TensorType::new(qd, Shape(vec![Dim::Const(d)])));
        let kn = self.operand(TensorType::new(kd, Shape(vec![Dim::Const(d)])));
        let pos = self.operand(TensorType::new(DType::I32, Shape(vec![Dim::Sym(Sym::T)])));
        let op = Op::QkvNormRope {
            heads,
            kv_heads,
            eps: self.float(),
            n_rot: 2 * self.rng.random_range(0..=d / 2),
            freq_base: self.float(),
            freq_scale: self.float(),
            k_cache: format!("cache.{}", self.rng.random_range(0..4)),
            v_cache: format!("cache.{}", self.rng.random_range(4..8)),
        };
        (op, vec![qkv, qn, kn, pos])
    }

    fn moe_down(&mut self) -> (Op, Vec<Value>) {
        let h = self.float_rank_const_last(3);
        let hs = self.ty(h).shape.0;
        let (e, n, dtype) = (self.cdim(), self.cdim(), self.any_dtype());
        let down = self.operand(TensorType::new(dtype, Shape(vec![Dim::Const(e), Dim::Const(n), hs[2]])));
        let ids = self.ids(hs[0], hs[1]);
        let w = self.operand(TensorType::new(DType::F32, Shape(vec![hs[0], hs[1]])));
        let mut operands = vec![h, down, ids, w];
        for _ in 0..self.rng.random_range(0..=2) {
            operands.push(self.operand(TensorType::new(DType::F32, Shape(vec![hs[0], Dim::Const(n)]))));
        }
        (Op::MoeDown, operands)
    }
}
