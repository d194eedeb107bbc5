//! [`op_from_parts`]: an [`Op`] from its text name and attributes, the inverse of
//! [`Op::name`] + [`Op::attrs`].
//!
//! Every attribute must be given exactly once; there are no defaults, so what a dump shows is
//! everything the op holds. `input` and `weight` take their quoted name as the attribute `name`.

use crate::{Attr, Op, Shape};

/// Builds the op named `name` from `attrs` (in any order), rejecting unknown ops and unknown,
/// missing, duplicate or mistyped attributes. A float attribute also accepts an integer.
pub fn op_from_parts<K: AsRef<str>>(name: &str, attrs: &[(K, Attr)]) -> Result<Op, String> {
    let mut a = Attrs::new(name, attrs)?;
    let op = match name {
        "input" => Op::Input {
            name: a.string("name")?,
        },
        "weight" => Op::Weight {
            name: a.string("name")?,
        },
        "get_rows" => Op::GetRows,
        "mul_mat" => Op::MulMat,
        "mul_mat_id" => Op::MulMatId,
        "add" => Op::Add,
        "mul" => Op::Mul,
        "div" => Op::Div,
        "scale" => Op::Scale {
            factor: a.float("factor")?,
            bias: a.float("bias")?,
        },
        "silu" => Op::Silu,
        "sigmoid" => Op::Sigmoid,
        "soft_max" => Op::SoftMax,
        "rms_norm" => Op::RmsNorm { eps: a.float("eps")? },
        "rope" => Op::Rope {
            n_rot: a.int("n_rot")?,
            freq_base: a.float("freq_base")?,
            freq_scale: a.float("freq_scale")?,
        },
        "argsort" => Op::Argsort {
            descending: a.bool("descending")?,
        },
        "top_k" => Op::TopK { k: a.int("k")? },
        "group_mask" => Op::GroupMask {
            groups: a.int("groups")?,
            keep: a.int("keep")?,
        },
        "gather" => Op::Gather,
        "sum" => Op::Sum { axis: a.int("axis")? },
        "reshape" => Op::Reshape {
            shape: a.shape("shape")?,
        },
        "slice" => Op::Slice {
            axis: a.int("axis")?,
            start: a.int("start")?,
            len: a.int("len")?,
        },
        "kv_write" => Op::KvWrite {
            cache: a.string("cache")?,
        },
        "attention" => Op::Attention {
            scale: a.float("scale")?,
        },
        "rms_norm_mul" => Op::RmsNormMul { eps: a.float("eps")? },
        "swiglu" => Op::SwiGlu,
        "moe_router" => Op::MoeRouter {
            groups: a.int("groups")?,
            keep: a.int("keep")?,
            k: a.int("k")?,
            norm: a.bool("norm")?,
            scale: a.float("scale")?,
        },
        "moe_gate_up" => Op::MoeGateUp,
        "moe_down" => Op::MoeDown,
        "mul_mat_add" => Op::MulMatAdd,
        "gate_up" => Op::GateUp,
        "qkv_norm_rope" => Op::QkvNormRope {
            heads: a.int("heads")?,
            kv_heads: a.int("kv_heads")?,
            eps: a.float("eps")?,
            n_rot: a.int("n_rot")?,
            freq_base: a.float("freq_base")?,
            freq_scale: a.float("freq_scale")?,
            k_cache: a.string("k_cache")?,
            v_cache: a.string("v_cache")?,
        },
        other => return Err(format!("unknown op `{other}`")),
    };
    a.finish()?;
    Ok(op)
}

/// The attributes of one op, each to be taken exactly once.
struct Attrs<'a, K> {
    op: &'a str,
    list: &'a [(K, Attr)],
    used: Vec<bool>,
}

impl<'a, K: AsRef<str>> Attrs<'a, K> {
    fn new(op: &'a str, list: &'a [(K, Attr)]) -> Result<Self, String> {
        for (i, (k, _)) in list.iter().enumerate() {
            if list[..i].iter().any(|(j, _)| j.as_ref() == k.as_ref()) {
                return Err(format!("{op}: attribute `{}` given twice", k.as_ref()));
            }
        }
        Ok(Attrs {
            op,
            list,
            used: vec![false; list.len()],
        })
    }

    fn take(&mut self, key: &str) -> Result<&'a Attr, String> {
        match self.list.iter().position(|(k, _)| k.as_ref() == key) {
            Some(i) => {
                self.used[i] = true;
                Ok(&self.list[i].1)
            }
            None => Err(format!("{}: missing attribute `{key}`", self.op)),
        }
    }

    fn mistyped(&self, key: &str, want: &str, got: &Attr) -> String {
        format!(
            "{}: attribute `{key}` must be {want}, got {}",
            self.op,
            super::print::attr(got)
        )
    }

    fn int(&mut self, key: &str) -> Result<usize, String> {
        match self.take(key)? {
            Attr::Int(n) => Ok(*n),
            other => Err(self.mistyped(key, "a non-negative integer", other)),
        }
    }

    fn float(&mut self, key: &str) -> Result<f32, String> {
        match self.take(key)? {
            Attr::Float(x) => Ok(*x),
            Attr::Int(n) => Ok(*n as f32),
            other => Err(self.mistyped(key, "a number", other)),
        }
    }

    fn bool(&mut self, key: &str) -> Result<bool, String> {
        match self.take(key)? {
            Attr::Bool(b) => Ok(*b),
            other => Err(self.mistyped(key, "`true` or `false`", other)),
        }
    }

    fn string(&mut self, key: &str) -> Result<String, String> {
        match self.take(key)? {
            Attr::Str(s) => Ok(s.clone()),
            other => Err(self.mistyped(key, "a string", other)),
        }
    }

    fn shape(&mut self, key: &str) -> Result<Shape, String> {
        match self.take(key)? {
            Attr::Shape(s) => Ok(s.clone()),
            other => Err(self.mistyped(key, "a shape like `[t, 64]`", other)),
        }
    }

    /// Fails on the first attribute nobody took.
    fn finish(self) -> Result<(), String> {
        match self.used.iter().position(|u| !u) {
            Some(i) => Err(format!("{}: unknown attribute `{}`", self.op, self.list[i].0.as_ref())),
            None => Ok(()),
        }
    }
}
