//! Shape and dtype inference: the result types of an op from its operand types.
//!
//! Errors are plain messages; the caller names the node.

use crate::{DType, Dim, Op, Shape, Sym, TensorType};

type R<T> = Result<T, String>;

fn f32t(shape: Shape) -> TensorType {
    TensorType::new(DType::F32, shape)
}

fn i32t(shape: Shape) -> TensorType {
    TensorType::new(DType::I32, shape)
}

fn want_float(t: &TensorType, what: &str) -> R<()> {
    match t.dtype {
        DType::I32 => Err(format!("{what} must be a float tensor, got {t}")),
        _ => Ok(()),
    }
}

fn want_f32(t: &TensorType, what: &str) -> R<()> {
    if t.dtype == DType::F32 {
        Ok(())
    } else {
        Err(format!("{what} must be f32, got {t}"))
    }
}

fn want_i32(t: &TensorType, what: &str) -> R<()> {
    if t.dtype == DType::I32 {
        Ok(())
    } else {
        Err(format!("{what} must be i32, got {t}"))
    }
}

fn want_rank(t: &TensorType, rank: usize, what: &str) -> R<()> {
    if t.shape.rank() == rank {
        Ok(())
    } else {
        Err(format!("{what} must have rank {rank}, got {t}"))
    }
}

fn same_dim(a: Dim, b: Dim, what: &str) -> R<()> {
    if a == b {
        Ok(())
    } else {
        Err(format!("{what}: {a} != {b}"))
    }
}

fn dim(t: &TensorType, axis: usize) -> Dim {
    t.shape.0[axis]
}

fn last(t: &TensorType, what: &str) -> R<Dim> {
    t.shape
        .last()
        .ok_or_else(|| format!("{what} must have rank >= 1, got a scalar"))
}

/// numpy broadcasting of two shapes.
pub fn broadcast(a: &Shape, b: &Shape) -> R<Shape> {
    let n = a.rank().max(b.rank());
    let pad = |s: &Shape| -> Vec<Dim> {
        let mut v = vec![Dim::Const(1); n - s.rank()];
        v.extend_from_slice(&s.0);
        v
    };
    let (pa, pb) = (pad(a), pad(b));
    pa.iter()
        .zip(&pb)
        .map(|(&x, &y)| match (x, y) {
            _ if x == y => Ok(x),
            (Dim::Const(1), _) => Ok(y),
            (_, Dim::Const(1)) => Ok(x),
            _ => Err(format!("shapes {a} and {b} do not broadcast")),
        })
        .collect::<R<Vec<_>>>()
        .map(Shape)
}

/// Element count of a shape as a product of a constant and symbol powers, for reshape checks.
fn volume(s: &Shape) -> (usize, Vec<Sym>) {
    let mut c = 1usize;
    let mut syms = vec![];
    for d in &s.0 {
        match d {
            Dim::Const(n) => c = c.saturating_mul(*n),
            Dim::Sym(x) => syms.push(*x),
        }
    }
    syms.sort_by_key(|s| s.name());
    (c, syms)
}

fn with_last(shape: &Shape, d: Dim) -> Shape {
    let mut v = shape.0.clone();
    if let Some(l) = v.last_mut() {
        *l = d;
    }
    Shape(v)
}

/// Result types of `op` applied to operands of types `ins`.
pub fn infer(op: &Op, ins: &[&TensorType]) -> R<Vec<TensorType>> {
    if !op.arity().accepts(ins.len()) {
        return Err(format!(
            "{} takes {:?} operands, got {}",
            op.name(),
            op.arity(),
            ins.len()
        ));
    }
    let one = |t: TensorType| Ok(vec![t]);
    match op {
        Op::Input { .. } | Op::Weight { .. } => Err(format!("{} declares its own type", op.name())),
        Op::GetRows => {
            let (table, ids) = (ins[0], ins[1]);
            want_rank(table, 2, "get_rows table")?;
            want_i32(ids, "get_rows ids")?;
            let mut s = ids.shape.0.clone();
            s.push(dim(table, 1));
            one(f32t(Shape(s)))
        }
        Op::MulMat => {
            let (w, x) = (ins[0], ins[1]);
            want_rank(w, 2, "mul_mat weight")?;
            want_float(x, "mul_mat input")?;
            same_dim(dim(w, 1), last(x, "mul_mat input")?, "mul_mat inner dims")?;
            one(f32t(with_last(&x.shape, dim(w, 0))))
        }
        Op::MulMatId => {
            let (w, x, ids) = (ins[0], ins[1], ins[2]);
            want_rank(w, 3, "mul_mat_id weight")?;
            want_rank(x, 3, "mul_mat_id input")?;
            want_rank(ids, 2, "mul_mat_id ids")?;
            want_i32(ids, "mul_mat_id ids")?;
            want_float(x, "mul_mat_id input")?;
            same_dim(dim(w, 2), dim(x, 2), "mul_mat_id inner dims")?;
            same_dim(dim(x, 0), dim(ids, 0), "mul_mat_id tokens")?;
            if dim(x, 1) != Dim::Const(1) {
                same_dim(dim(x, 1), dim(ids, 1), "mul_mat_id input rows per token")?;
            }
            one(f32t(Shape(vec![dim(ids, 0), dim(ids, 1), dim(w, 1)])))
        }
        Op::Add | Op::Mul | Op::Div | Op::SwiGlu => {
            want_float(ins[0], "lhs")?;
            want_float(ins[1], "rhs")?;
            one(f32t(broadcast(&ins[0].shape, &ins[1].shape)?))
        }
        Op::Scale { .. } | Op::Silu | Op::Sigmoid | Op::SoftMax | Op::RmsNorm { .. } => {
            want_float(ins[0], op.name())?;
            last(ins[0], op.name())?;
            one(f32t(ins[0].shape.clone()))
        }
        Op::RmsNormMul { .. } => {
            want_float(ins[0], "rms_norm_mul input")?;
            one(f32t(broadcast(&ins[0].shape, &ins[1].shape)?))
        }
        Op::Rope { n_rot, .. } => {
            let (x, pos) = (ins[0], ins[1]);
            want_rank(x, 3, "rope input")?;
            want_rank(pos, 1, "rope positions")?;
            want_i32(pos, "rope positions")?;
            same_dim(dim(x, 0), dim(pos, 0), "rope tokens")?;
            match dim(x, 2) {
                Dim::Const(d) if *n_rot % 2 == 0 && *n_rot <= d => {}
                d => return Err(format!("rope n_rot {n_rot} must be even and <= head dim {d}")),
            }
            one(f32t(x.shape.clone()))
        }
        Op::Argsort { .. } => {
            want_float(ins[0], "argsort input")?;
            last(ins[0], "argsort input")?;
            one(i32t(ins[0].shape.clone()))
        }
        Op::TopK { k } => {
            want_float(ins[0], "top_k input")?;
            match last(ins[0], "top_k input")? {
                Dim::Const(n) if *k >= 1 && *k <= n => one(i32t(with_last(&ins[0].shape, Dim::Const(*k)))),
                n => Err(format!("top_k k = {k} must be in 1..={n}")),
            }
        }
        Op::GroupMask { groups, keep } => {
            want_f32(ins[0], "group_mask input")?;
            want_rank(ins[0], 2, "group_mask input")?;
            check_groups(dim(ins[0], 1), *groups, *keep)?;
            one(f32t(ins[0].shape.clone()))
        }
        Op::Gather => {
            let (x, idx) = (ins[0], ins[1]);
            want_float(x, "gather input")?;
            want_i32(idx, "gather indices")?;
            last(x, "gather input")?;
            if x.shape.rank() != idx.shape.rank()
                || x.shape.0[..x.shape.rank() - 1] != idx.shape.0[..idx.shape.rank() - 1]
            {
                return Err(format!(
                    "gather: input {x} and indices {idx} must agree on all but the last axis"
                ));
            }
            one(f32t(idx.shape.clone()))
        }
        Op::Sum { axis } => {
            want_float(ins[0], "sum input")?;
            if *axis >= ins[0].shape.rank() {
                return Err(format!("sum axis {axis} out of range for {}", ins[0]));
            }
            let mut s = ins[0].shape.clone();
            s.0[*axis] = Dim::Const(1);
            one(f32t(s))
        }
        Op::Reshape { shape } => {
            if volume(shape) != volume(&ins[0].shape) {
                return Err(format!("reshape {} to {shape} changes the element count", ins[0].shape));
            }
            one(TensorType::new(ins[0].dtype, shape.clone()))
        }
        Op::Slice { axis, start, len } => {
            let x = ins[0];
            let d = x
                .shape
                .0
                .get(*axis)
                .ok_or_else(|| format!("slice axis {axis} out of range for {x}"))?;
            match d {
                Dim::Const(n) if start.checked_add(*len).is_some_and(|e| e <= *n) && *len > 0 => {}
                _ => {
                    return Err(format!(
                        "slice {start}..{start}+{len} of axis {axis} out of range for {x}"
                    ))
                }
            }
            let mut s = x.shape.clone();
            s.0[*axis] = Dim::Const(*len);
            one(TensorType::new(x.dtype, s))
        }
        Op::KvWrite { .. } => {
            want_rank(ins[0], 3, "kv_write input")?;
            same_dim(dim(ins[0], 0), Dim::Sym(Sym::T), "kv_write rows")?;
            let mut s = ins[0].shape.clone();
            s.0[0] = Dim::Sym(Sym::Kv);
            one(f32t(s))
        }
        Op::Attention { .. } => {
            let (q, k, v) = (ins[0], ins[1], ins[2]);
            for (t, n) in [(q, "q"), (k, "k"), (v, "v")] {
                want_rank(t, 3, n)?;
                want_float(t, n)?;
            }
            same_dim(dim(q, 2), dim(k, 2), "attention q/k head dims")?;
            same_dim(dim(k, 0), dim(v, 0), "attention k/v lengths")?;
            same_dim(dim(k, 1), dim(v, 1), "attention k/v heads")?;
            match (dim(q, 1), dim(k, 1)) {
                (Dim::Const(h), Dim::Const(hk)) if hk > 0 && h % hk == 0 => {}
                (h, hk) => return Err(format!("attention heads {h} must be a multiple of kv heads {hk}")),
            }
            one(f32t(Shape(vec![dim(q, 0), dim(q, 1), dim(v, 2)])))
        }
        Op::MoeRouter { groups, keep, k, .. } => {
            let (logits, bias) = (ins[0], ins[1]);
            want_f32(logits, "moe_router logits")?;
            want_rank(logits, 2, "moe_router logits")?;
            want_rank(bias, 1, "moe_router bias")?;
            let e = dim(logits, 1);
            same_dim(e, dim(bias, 0), "moe_router experts")?;
            check_groups(e, *groups, *keep)?;
            if *k == 0 || e.as_const().is_some_and(|e| *k > e) {
                return Err(format!("moe_router k = {k} must be in 1..={e}"));
            }
            let s = Shape(vec![dim(logits, 0), Dim::Const(*k)]);
            Ok(vec![i32t(s.clone()), f32t(s)])
        }
        Op::MoeGateUp => {
            let (x, gate, up, ids) = (ins[0], ins[1], ins[2], ins[3]);
            want_rank(x, 2, "moe_gate_up input")?;
            want_rank(gate, 3, "moe_gate_up gate")?;
            want_i32(ids, "moe_gate_up ids")?;
            want_rank(ids, 2, "moe_gate_up ids")?;
            if gate.shape != up.shape {
                return Err(format!("moe_gate_up gate {gate} and up {up} differ"));
            }
            same_dim(dim(gate, 2), dim(x, 1), "moe_gate_up inner dims")?;
            same_dim(dim(x, 0), dim(ids, 0), "moe_gate_up tokens")?;
            one(f32t(Shape(vec![dim(ids, 0), dim(ids, 1), dim(gate, 1)])))
        }
        Op::MoeDown => {
            let (h, down, ids, w) = (ins[0], ins[1], ins[2], ins[3]);
            want_rank(h, 3, "moe_down input")?;
            want_rank(down, 3, "moe_down weight")?;
            want_i32(ids, "moe_down ids")?;
            want_f32(w, "moe_down weights")?;
            same_dim(dim(down, 2), dim(h, 2), "moe_down inner dims")?;
            if ids.shape != w.shape || ids.shape.0[..] != h.shape.0[..2] {
                return Err(format!(
                    "moe_down: input {h}, ids {ids} and weights {w} disagree on [t, k]"
                ));
            }
            let out = Shape(vec![dim(h, 0), dim(down, 1)]);
            for (i, a) in ins[4..].iter().enumerate() {
                if a.shape != out {
                    return Err(format!("moe_down addend {} is {a}, expected f32{out}", i + 4));
                }
            }
            one(f32t(out))
        }
        Op::MulMatAdd => {
            let (w, x, a) = (ins[0], ins[1], ins[2]);
            let prod = infer(&Op::MulMat, &[w, x])?;
            want_float(a, "mul_mat_add addend")?;
            if a.shape != prod[0].shape {
                return Err(format!("mul_mat_add addend is {a}, expected f32{}", prod[0].shape));
            }
            Ok(prod)
        }
        Op::GateUp => {
            let (x, gate, up) = (ins[0], ins[1], ins[2]);
            if gate.shape != up.shape {
                return Err(format!("gate_up gate {gate} and up {up} differ"));
            }
            infer(&Op::MulMat, &[gate, x])
        }
        Op::QkvNormRope {
            heads, kv_heads, n_rot, ..
        } => qkv_norm_rope(ins, *heads, *kv_heads, *n_rot),
    }
}

/// The result types of `qkv_norm_rope`: q `[t, heads, d]`, then the K and V caches.
fn qkv_norm_rope(ins: &[&TensorType], heads: usize, kv_heads: usize, n_rot: usize) -> R<Vec<TensorType>> {
    let (qkv, qn, kn, pos) = (ins[0], ins[1], ins[2], ins[3]);
    want_rank(qkv, 2, "qkv_norm_rope input")?;
    want_float(qkv, "qkv_norm_rope input")?;
    same_dim(dim(qkv, 0), Dim::Sym(Sym::T), "qkv_norm_rope rows")?;
    want_rank(qn, 1, "qkv_norm_rope q_norm")?;
    if kn.shape != qn.shape {
        return Err(format!("qkv_norm_rope k_norm {kn} and q_norm {qn} differ"));
    }
    want_rank(pos, 1, "qkv_norm_rope positions")?;
    want_i32(pos, "qkv_norm_rope positions")?;
    same_dim(dim(qkv, 0), dim(pos, 0), "qkv_norm_rope tokens")?;
    let (Dim::Const(n), Dim::Const(d)) = (dim(qkv, 1), dim(qn, 0)) else {
        return Err(format!("qkv_norm_rope needs constant sizes, got {qkv} and {qn}"));
    };
    let qk = heads.checked_add(kv_heads).and_then(|h| h.checked_mul(d));
    let dv = match qk {
        Some(qk) if heads >= 1 && kv_heads >= 1 && qk < n && (n - qk) % kv_heads == 0 => (n - qk) / kv_heads,
        _ => {
            return Err(format!(
                "{n} columns are not {heads} q heads and {kv_heads} k heads of {d}, then {kv_heads} v heads"
            ))
        }
    };
    if !n_rot.is_multiple_of(2) || n_rot > d {
        return Err(format!("qkv_norm_rope n_rot {n_rot} must be even and <= head dim {d}"));
    }
    let kv = |h: usize, d: usize| f32t(Shape(vec![Dim::Sym(Sym::Kv), Dim::Const(h), Dim::Const(d)]));
    Ok(vec![
        f32t(Shape(vec![dim(qkv, 0), Dim::Const(heads), Dim::Const(d)])),
        kv(kv_heads, d),
        kv(kv_heads, dv),
    ])
}

fn check_groups(e: Dim, groups: usize, keep: usize) -> R<()> {
    match e {
        Dim::Const(e)
            if groups >= 1 && e % groups == 0 && keep >= 1 && keep <= groups && (groups == 1 || e / groups >= 2) =>
        {
            Ok(())
        }
        _ => Err(format!(
            "{e} experts cannot form {groups} groups of at least two with {keep} kept"
        )),
    }
}
