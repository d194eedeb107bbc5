//! `fuse-qkv-norm-rope`: everything between the fused QKV projection and the attention becomes
//! one `qkv_norm_rope` (one kernel per layer instead of nine):
//!
//! ```text
//! q = rope(rms_norm(reshape(slice(qkv, 0, H·d)) [t, H, d]) · q_norm, pos)
//! k = kv_write(rope(rms_norm(reshape(slice(qkv, H·d, Hkv·d)) [t, Hkv, d]) · k_norm, pos))
//! v = kv_write(reshape(slice(qkv, (H + Hkv)·d, Hkv·dv)) [t, Hkv, dv])
//!   -> q, k, v = qkv_norm_rope(qkv, q_norm, k_norm, pos)
//! ```
//!
//! The three slices must tile `qkv`'s rows and be its only readers; q and k must share the norm's
//! epsilon and the rope settings and positions; every step before the writes has one reader.
//! The `kv_write`s go: the new node writes the caches.

use lingot_ir::{Dim, Graph, NodeId, Op, Value};

use crate::pattern::{arg, op, readers, run_rules, single_use, uses, weighted_norm};
use crate::{Pass, PassError, Rewrite};

pub struct FuseQkvNormRope;

impl Pass for FuseQkvNormRope {
    fn name(&self) -> &'static str {
        "fuse-qkv-norm-rope"
    }

    fn run(&self, g: &mut Graph) -> Result<bool, PassError> {
        run_rules(self.name(), g, &[qkv])
    }
}

/// One of q or k: rope(norm(reshape(slice(qkv)))).
struct Head {
    slice: Value,
    heads: usize,
    d: usize,
    weight: Value,
    eps: f32,
    rope: Op,
    pos: Value,
}

// q = rope(norm(reshape(slice(qkv)))), k likewise into kv_write, v = kv_write(reshape(slice(qkv)))
//   -> qkv_norm_rope(qkv, q_norm, k_norm, pos)
fn qkv(g: &Graph, id: NodeId) -> Option<Rewrite> {
    let q_out = Value::from(id);
    let q = head(g, q_out)?;
    let Op::Slice { axis: 1, start: 0, .. } = *op(g, q.slice) else {
        return None;
    };
    let x = arg(g, q.slice.node, 0)?;
    let [n] = g.ty(x).shape.dims()[1..] else { return None };
    let n = n.as_const()?;
    let slices = readers(g, x);
    if slices.len() != 3 || uses(g, x) != 3 {
        return None;
    }
    let (q_cols, d) = (q.heads * q.d, q.d);
    let starting = |at: usize| {
        slices
            .iter()
            .map(|&s| Value::from(s))
            .find(|s| slice_start(g, *s) == Some(at))
    };
    // k: its slice starts where q's ends; its rope feeds a kv_write
    let k_slice = starting(q_cols)?;
    let k_rope = rope_below(g, k_slice)?;
    let k = head(g, k_rope)?;
    let k_write = sole_kv_write(g, k_rope)?;
    let k_cols = k.heads * d;
    // v: the rest of the row, reshaped into heads of dv, into a kv_write
    let v_slice = starting(q_cols + k_cols)?;
    let v3 = reshaped(g, v_slice)?;
    let v_write = sole_kv_write(g, v3)?;
    let dims = g.ty(v3).shape.dims().to_vec();
    let same_settings = k.slice == k_slice && k.d == d && k.eps == q.eps && k.rope == q.rope && k.pos == q.pos;
    let tiles = dims.len() == 3
        && dims[1] == Dim::Const(k.heads)
        && slice_len(g, v_slice) == Some(n - q_cols - k_cols)
        && slice_len(g, q.slice) == Some(q_cols)
        && slice_len(g, k_slice) == Some(k_cols);
    if !same_settings || !tiles {
        return None;
    }
    let Op::Rope {
        n_rot,
        freq_base,
        freq_scale,
    } = q.rope
    else {
        return None;
    };
    let (Op::KvWrite { cache: k_cache }, Op::KvWrite { cache: v_cache }) = (op(g, k_write), op(g, v_write)) else {
        return None;
    };
    let op = Op::QkvNormRope {
        heads: q.heads,
        kv_heads: k.heads,
        eps: q.eps,
        n_rot,
        freq_base,
        freq_scale,
        k_cache: k_cache.clone(),
        v_cache: v_cache.clone(),
    };
    let mut rw = Rewrite::replace(g, id, op, vec![x, q.weight, k.weight, q.pos]);
    rw.replaces.extend([(k_write, 1), (v_write, 2)]);
    Some(rw)
}

/// `rope(norm(reshape(slice(_)) [t, heads, d]) · w, pos)` ending at `v`, each step read once.
fn head(g: &Graph, v: Value) -> Option<Head> {
    let rope = op(g, v).clone();
    let Op::Rope { .. } = rope else { return None };
    let (normed, pos) = (arg(g, v.node, 0)?, arg(g, v.node, 1)?);
    let (x3, weight, eps) = weighted_norm(g, normed)?;
    let (Op::Reshape { .. }, true, true) = (op(g, x3), single_use(g, normed), single_use(g, x3)) else {
        return None;
    };
    let slice = arg(g, x3.node, 0)?;
    let (Op::Slice { .. }, true) = (op(g, slice), single_use(g, slice)) else {
        return None;
    };
    let [_, heads, d] = g.ty(x3).shape.dims()[..] else {
        return None;
    };
    Some(Head {
        slice,
        heads: heads.as_const()?,
        d: d.as_const()?,
        weight,
        eps,
        rope,
        pos,
    })
}

fn slice_start(g: &Graph, v: Value) -> Option<usize> {
    match *op(g, v) {
        Op::Slice { axis: 1, start, .. } => Some(start),
        _ => None,
    }
}

fn slice_len(g: &Graph, v: Value) -> Option<usize> {
    match *op(g, v) {
        Op::Slice { axis: 1, len, .. } => Some(len),
        _ => None,
    }
}

/// The single reader of `v` that is a `reshape`.
fn reshaped(g: &Graph, v: Value) -> Option<Value> {
    let [r] = readers(g, v)[..] else { return None };
    (matches!(g.node(r).op, Op::Reshape { .. }) && single_use(g, v)).then_some(r.into())
}

/// The `rope` at most four single-reader steps below `v` (reshape, rms_norm, mul, rope).
fn rope_below(g: &Graph, v: Value) -> Option<Value> {
    let mut at = v;
    for _ in 0..4 {
        let [r] = readers(g, at)[..] else { return None };
        if !single_use(g, at) {
            return None;
        }
        at = r.into();
        if let Op::Rope { .. } = op(g, at) {
            return Some(at);
        }
    }
    None
}

/// The `kv_write` that is `v`'s only reader.
fn sole_kv_write(g: &Graph, v: Value) -> Option<Value> {
    let [w] = readers(g, v)[..] else { return None };
    (matches!(g.node(w).op, Op::KvWrite { .. }) && single_use(g, v)).then_some(w.into())
}
