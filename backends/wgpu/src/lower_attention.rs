//! Lowering of `attention`: the tiled prefill kernel (attention_tiled.wgsl, or attention_coop.wgsl
//! on devices with cooperative matrices) where the head dims and the query groups fit it, else
//! attention.wgsl, which for decode (few queries) splits the
//! keys over workgroups and has the last workgroup of each query head merge the partials (on
//! Vulkan; elsewhere an attention_merge launch does, see `AttentionMerge`).

use lingot_ir::exec::BackendError;
use lingot_ir::{Shape, Value};

use crate::kernels::{
    Kernel, ATTENTION_COOP_SHARED, ATTENTION_MAX_D, ATTENTION_TILE_MAX_D, ATTENTION_TILE_ROWS, ATTENTION_TILE_SHARED,
    MAT_VEC_MAX_B,
};
use crate::pipelines::{grid, Params};
use crate::plan::{BytesFn, KvCheck, Planner};

impl Planner<'_, '_> {
    /// `attention`: the tiled prefill kernel where it applies, else attention.wgsl, split over
    /// the keys for decode (few queries).
    pub fn attention(&mut self, ops: &[Value], scale: f32) -> Result<(), BackendError> {
        let (qs, ks, vs) = (
            self.ty(ops[0]).shape.clone(),
            self.ty(ops[1]).shape.clone(),
            self.ty(ops[2]).shape.clone(),
        );
        let c = |s: &Shape, i: usize| s.dims()[i].as_const();
        let (Some(heads), Some(kv_heads), Some(d), Some(dv)) = (c(&qs, 1), c(&ks, 1), c(&qs, 2), c(&vs, 2)) else {
            return Err(self.err("attention needs constant heads and head dims"));
        };
        if d > ATTENTION_MAX_D || dv > ATTENTION_MAX_D {
            return Err(self.err(format!(
                "head dims {d}/{dv}; the kernel handles up to {ATTENTION_MAX_D}"
            )));
        }
        self.kv_checks.push(KvCheck {
            node: self.label(),
            queries: qs.dims()[0],
            keys: ks.dims()[0],
        });
        let q = self.act(ops[0])?;
        let k = self.act(ops[1])?;
        let v = self.act(ops[2])?;
        let out = self.out(0)?;
        let (qs2, ks2) = (qs.clone(), ks.clone());
        // q, and the keys and values of the positions attended to
        let bytes: BytesFn = Box::new(move |b| {
            let (t, kv) = (qs2.dims()[0].bind(b), ks2.dims()[0].bind(b));
            (4 * (t * heads * d + kv * kv_heads * (d + dv))) as u64
        });
        let group = heads / kv_heads.max(1);
        let tiled = self.cap.t > MAT_VEC_MAX_B
            && d % 4 == 0
            && dv % 4 == 0
            && d <= ATTENTION_TILE_MAX_D
            && dv <= ATTENTION_TILE_MAX_D
            && heads % kv_heads.max(1) == 0
            && ATTENTION_TILE_ROWS.is_multiple_of(group)
            && self.gpu.limits.max_compute_workgroup_storage_size >= ATTENTION_TILE_SHARED;
        // on cooperative matrices where the head dims are whole 16 x 16 tiles
        let coop = tiled
            && self.gpu.caps.coop
            && d % 16 == 0
            && dv % 16 == 0
            && self.gpu.limits.max_compute_workgroup_storage_size >= ATTENTION_COOP_SHARED;
        if tiled {
            // prefill: a block of queries per workgroup, each key and value loaded once for all
            let tokens_per_group = ATTENTION_TILE_ROWS / group;
            return self.push_counted(
                if coop {
                    Kernel::AttentionCoop
                } else {
                    Kernel::AttentionTiled
                },
                vec![q, k, v, out],
                Box::new(move |b| {
                    let t = qs.dims()[0].bind(b);
                    let kv = ks.dims()[0].bind(b);
                    let p = Params::new().u(t).u(heads).u(kv_heads).u(d).u(dv).u(kv).f(scale);
                    (p, [t.div_ceil(tokens_per_group) as u32, kv_heads as u32, 1])
                }),
                bytes,
            );
        }
        if self.cap.t > MAT_VEC_MAX_B {
            // one workgroup per query; the partials and counters of the split form go unused
            let (unused, unused_too) = (self.temp(4)?, self.temp(4)?);
            return self.push_counted(
                Kernel::Attention,
                vec![q, k, v, out, unused, unused_too],
                Box::new(move |b| {
                    let t = qs.dims()[0].bind(b);
                    let kv = ks.dims()[0].bind(b);
                    let p = Params::new().u(t).u(heads).u(kv_heads).u(d).u(dv).u(kv).f(scale);
                    (p.u(u32::MAX as usize).u(0), grid(t * heads))
                }),
                bytes,
            );
        }
        // decode: few queries, so the keys are split over workgroups (ATTENTION_SPLIT each); the
        // last workgroup of each query head merges the partials
        let rows_cap = qs.bind(&self.cap)[0] * heads;
        let part = self.temp(rows_cap * max_splits(ks.bind(&self.cap)[0]) * (dv + 2))?;
        let in_kernel = self.gpu.merge_in_kernel;
        // one counter per query head, zero between launches (the last workgroup resets its own)
        let counters = if in_kernel {
            self.dedicated(4 * rows_cap as u64, "attention counters")?
        } else {
            self.temp(4)?
        };
        let (qs2, ks2) = (qs.clone(), ks.clone());
        // few keys: one workgroup per query head takes them all, with no partials to merge (on
        // devices with subgroups only: without them this form gave NaN on lavapipe, and forced
        // for every cache length it hung on the H100 once; neither is understood yet, see
        // BENCHMARKS.md)
        let direct_max = if self.gpu.caps.subgroups {
            ATTENTION_DIRECT_MAX
        } else {
            0
        };
        self.push_counted(
            Kernel::Attention,
            vec![q, k, v, out.clone(), part.clone(), counters],
            Box::new(move |b| {
                let t = qs.dims()[0].bind(b);
                let kv = ks.dims()[0].bind(b);
                let (chunk, splits) = split_keys(kv);
                let p = Params::new().u(t).u(heads).u(kv_heads).u(d).u(dv).u(kv).f(scale);
                if kv <= direct_max {
                    return (p.u(u32::MAX as usize).u(0), [(t * heads) as u32, 1, 1]);
                }
                let mode = if in_kernel { 1 } else { 2 };
                (p.u(chunk).u(mode), [(t * heads) as u32, splits as u32, 1])
            }),
            bytes,
        )?;
        if in_kernel {
            return Ok(());
        }
        self.push(
            Kernel::AttentionMerge,
            vec![part, out],
            Box::new(move |b| {
                let rows = qs2.dims()[0].bind(b) * heads;
                let splits = split_keys(ks2.dims()[0].bind(b)).1;
                (Params::new().u(rows).u(splits).u(dv), grid(rows))
            }),
        )
    }
}

/// Keys up to which decode attention takes each query head in one workgroup (the split form's
/// partials and merge cost more than they save there: H100, 20 layers at 16 keys, 318 -> 258
/// us; at 100 keys one workgroup is slower, 335 -> 390 us).
const ATTENTION_DIRECT_MAX: usize = 64;
/// Keys per workgroup of split (decode) attention, at least.
const ATTENTION_SPLIT: usize = 64;
/// Splits of one query head at most: the kernel merges them one per invocation.
const ATTENTION_MAX_SPLITS: usize = 64;

/// The most splits of any `kv` up to `cap`, which sizes the partials (splits do not grow with
/// `kv`: 4096 keys take 64 splits of 64, 6000 take 47 of 128).
fn max_splits(cap: usize) -> usize {
    cap.div_ceil(ATTENTION_SPLIT).clamp(1, ATTENTION_MAX_SPLITS)
}

/// `(keys per split, splits)` of split attention over `kv` keys: splits of ATTENTION_SPLIT keys,
/// wider (in multiples of it) past ATTENTION_MAX_SPLITS of them.
fn split_keys(kv: usize) -> (usize, usize) {
    let chunk = kv
        .div_ceil(ATTENTION_MAX_SPLITS)
        .next_multiple_of(ATTENTION_SPLIT)
        .max(ATTENTION_SPLIT);
    (chunk, kv.div_ceil(chunk).max(1))
}

#[cfg(test)]
mod tests {
    use super::{max_splits, split_keys, ATTENTION_MAX_SPLITS, ATTENTION_SPLIT};
    use crate::kernels::Kernel;

    #[test]
    fn split_attention_covers_the_keys_in_few_enough_splits() {
        for kv in [1, 63, 64, 65, 4096, 4097, 6000, 131072, 1 << 20] {
            let (chunk, splits) = split_keys(kv);
            assert!(splits <= ATTENTION_MAX_SPLITS, "kv {kv}: {splits} splits");
            assert_eq!(chunk % ATTENTION_SPLIT, 0, "kv {kv}: chunk {chunk}");
            assert!(
                chunk * splits >= kv && chunk * (splits - 1) < kv,
                "kv {kv}: {splits} x {chunk}"
            );
        }
        assert_eq!(split_keys(200), (64, 4));
    }

    #[test]
    fn the_partials_hold_the_splits_of_every_kv_up_to_the_cap() {
        for cap in [1, 64, 100, 4096, 4097, 6000, 8193, 20000] {
            for kv in 1..=cap {
                assert!(split_keys(kv).1 <= max_splits(cap), "cap {cap}, kv {kv}");
            }
        }
    }

    #[test]
    fn a_workgroup_merges_every_split_and_is_two_halves_of_32() {
        // attention.wgsl: one split per invocation in the merge, `half = lane / 32`
        assert!(ATTENTION_MAX_SPLITS <= Kernel::Attention.workgroup_size() as usize);
        assert_eq!(Kernel::Attention.workgroup_size(), 64);
    }
}
