//! `cse`: nodes with the same op, attributes, operands and result types become one (the first in
//! topological order keeps its place and, if it had none, takes the other's debug name). Weights
//! and inputs of the same name merge too. Side-effecting nodes (`kv_write`) never merge: each
//! writes its cache.

use std::collections::HashMap;

use lingot_ir::{Graph, NodeId, TensorType, Value};

use crate::{rewrite, Pass, PassError};

pub struct Cse;

/// What makes two nodes the same computation. Attributes compare through their `Debug` text,
/// which prints floats exactly (and `Op` holds floats, so it has no `Eq`/`Hash`).
#[derive(PartialEq, Eq, Hash)]
struct Key {
    op: String,
    operands: Vec<Value>,
    results: Vec<TensorType>,
}

impl Pass for Cse {
    fn name(&self) -> &'static str {
        "cse"
    }

    fn run(&self, g: &mut Graph) -> Result<bool, PassError> {
        let order = g.topo_order().map_err(|n| PassError::Cycle(n.index()))?;
        let mut first: HashMap<Key, NodeId> = HashMap::new();
        let mut changed = false;
        for id in order {
            let node = g.node(id);
            if node.op.has_side_effect() {
                continue;
            }
            // operands as they are now, after earlier merges
            let key = Key {
                op: format!("{:?}", node.op),
                operands: g.operands(id),
                results: node.results.clone(),
            };
            match first.get(&key) {
                Some(&keep) => {
                    rewrite::merge(g, keep, id);
                    changed = true;
                }
                None => {
                    first.insert(key, id);
                }
            }
        }
        Ok(changed)
    }
}
