//! `dce`: erases every node that no graph output and no side-effecting node (`kv_write`, which
//! fills a KV cache later runs read) depends on.

use std::collections::HashSet;

use lingot_ir::{Graph, NodeId};
use petgraph::Direction;

use crate::{rewrite, Pass, PassError};

pub struct Dce;

impl Pass for Dce {
    fn name(&self) -> &'static str {
        "dce"
    }

    fn run(&self, g: &mut Graph) -> Result<bool, PassError> {
        let live = live(g);
        let dead: Vec<NodeId> = g.g.node_indices().filter(|n| !live.contains(n)).collect();
        rewrite::erase(g, &dead).map_err(|msg| PassError::Rewrite {
            pass: "dce",
            node: "the dead nodes".into(),
            msg,
        })?;
        Ok(!dead.is_empty())
    }
}

/// The nodes the outputs and the side-effecting nodes read, transitively, and those nodes.
fn live(g: &Graph) -> HashSet<NodeId> {
    let mut stack: Vec<NodeId> = g
        .outputs
        .iter()
        .map(|(v, _)| v.node)
        .filter(|n| g.g.contains_node(*n))
        .collect();
    stack.extend(g.g.node_indices().filter(|&n| g.node(n).op.has_side_effect()));
    let mut live = HashSet::new();
    while let Some(n) = stack.pop() {
        if live.insert(n) {
            stack.extend(g.g.neighbors_directed(n, Direction::Incoming));
        }
    }
    live
}
