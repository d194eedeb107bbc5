//! The activation memory plan: which buffer holds each computed value, by liveness.
//!
//! Values are visited in topological order; a value takes the smallest free buffer that holds it
//! (best fit) or a new one, and its buffer is free again after its last reader (graph outputs are
//! never freed). A result never shares a buffer with an operand of its own node. What needs no
//! buffer of its own: inputs and weights (they have their own), views of weights (`reshape` /
//! `slice` of a weight), `kv_write` results and the k, v results of `qkv_norm_rope` (the KV caches
//! themselves); a `reshape` of an activation
//! shares its operand's buffer. Every activation is 4 bytes an element (f32 or i32).
//!
//! This is an analysis: it changes nothing. Backends size their own pools; `dump-ir --stats`
//! reports this plan's total to compare graphs.

use std::collections::HashMap;

use lingot_ir::{Bindings, Graph, Op, Value};

use crate::PassError;

#[derive(Debug, Clone, PartialEq)]
pub struct MemoryPlan {
    pub bindings: Bindings,
    /// Size of each buffer, in bytes.
    pub buffers: Vec<u64>,
    /// The buffer of every activation (a `reshape` of one shares its buffer).
    pub assignment: HashMap<Value, usize>,
    /// Bytes of all buffers: the activation memory the graph needs at these bindings.
    pub total_bytes: u64,
    /// The most bytes of values alive at once (what a perfect packing would need).
    pub peak_live_bytes: u64,
}

/// Where a value lives.
#[derive(Clone, Copy, PartialEq)]
enum Home {
    /// Its own buffer (bytes).
    Own(u64),
    /// The buffer of this value.
    Alias(Value),
    /// No activation buffer (input, weight, view of a weight, KV cache).
    Elsewhere,
}

fn home(g: &Graph, v: Value, homes: &HashMap<Value, Home>, b: &Bindings) -> Home {
    let node = g.node(v.node);
    let operand = g.operands(v.node).first().and_then(|o| homes.get(o).copied());
    match &node.op {
        Op::Input { .. } | Op::Weight { .. } | Op::KvWrite { .. } => Home::Elsewhere,
        // k and v are the caches it writes
        Op::QkvNormRope { .. } if v.index > 0 => Home::Elsewhere,
        Op::Reshape { .. } => match operand {
            Some(Home::Own(_)) => Home::Alias(g.operands(v.node)[0]),
            Some(alias @ Home::Alias(_)) => alias,
            _ => Home::Elsewhere,
        },
        Op::Slice { .. } if operand == Some(Home::Elsewhere) && is_weight_view(g, v) => Home::Elsewhere,
        _ => Home::Own(4 * node.results[v.index as usize].shape.bind(b).iter().product::<usize>() as u64),
    }
}

/// Whether `v` is a weight or a `reshape` / `slice` of one (a view, no copy).
pub fn is_weight_view(g: &Graph, v: Value) -> bool {
    match &g.node(v.node).op {
        Op::Weight { .. } => true,
        Op::Reshape { .. } | Op::Slice { .. } => g.operands(v.node).first().is_some_and(|o| is_weight_view(g, *o)),
        _ => false,
    }
}

/// Plans the activation buffers of `g` at bindings `b` (see the module docs).
pub fn plan_memory(g: &Graph, b: Bindings) -> Result<MemoryPlan, PassError> {
    let order = g.topo_order().map_err(|n| PassError::Cycle(n.index()))?;
    let mut homes: HashMap<Value, Home> = HashMap::new();
    for &id in &order {
        for index in 0..g.node(id).results.len() as u32 {
            let v = Value { node: id, index };
            let h = home(g, v, &homes, &b);
            homes.insert(v, h);
        }
    }
    let owner = |v: Value| match homes.get(&v) {
        Some(Home::Own(_)) => Some(v),
        Some(Home::Alias(o)) => Some(*o),
        _ => None,
    };
    // position of the last reader of each buffer-owning value
    let mut last: HashMap<Value, usize> = HashMap::new();
    for (i, &id) in order.iter().enumerate() {
        for v in g.operands(id).into_iter().filter_map(owner) {
            last.insert(v, i);
        }
    }
    for (v, _) in &g.outputs {
        if let Some(o) = owner(*v) {
            last.insert(o, usize::MAX);
        }
    }

    let mut plan = MemoryPlan {
        bindings: b,
        buffers: vec![],
        assignment: HashMap::new(),
        total_bytes: 0,
        peak_live_bytes: 0,
    };
    let (mut free, mut live_bytes): (Vec<usize>, u64) = (vec![], 0);
    for (i, &id) in order.iter().enumerate() {
        for index in 0..g.node(id).results.len() as u32 {
            let v = Value { node: id, index };
            match homes[&v] {
                Home::Own(bytes) => {
                    let fit = free
                        .iter()
                        .enumerate()
                        .filter(|(_, &f)| plan.buffers[f] >= bytes)
                        .min_by_key(|(_, &f)| plan.buffers[f]);
                    let buf = match fit {
                        Some((at, _)) => free.swap_remove(at),
                        None => {
                            plan.buffers.push(bytes);
                            plan.buffers.len() - 1
                        }
                    };
                    plan.assignment.insert(v, buf);
                    live_bytes += bytes;
                    last.entry(v).or_insert(i); // never read: free right after
                }
                Home::Alias(o) => {
                    let buf = plan.assignment[&o];
                    plan.assignment.insert(v, buf);
                }
                Home::Elsewhere => {}
            }
        }
        plan.peak_live_bytes = plan.peak_live_bytes.max(live_bytes);
        // free what this node read last, and its own results nobody reads
        let mut done: Vec<Value> = g.operands(id).into_iter().filter_map(owner).collect();
        done.extend(
            (0..g.node(id).results.len() as u32)
                .map(|index| Value { node: id, index })
                .filter_map(owner),
        );
        done.sort();
        done.dedup();
        for v in done {
            if last.get(&v) == Some(&i) {
                if let Some(Home::Own(bytes)) = homes.get(&v) {
                    live_bytes -= bytes;
                }
                free.push(plan.assignment[&v]);
            }
        }
    }
    plan.total_bytes = plan.buffers.iter().sum();
    Ok(plan)
}
