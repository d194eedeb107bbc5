//! `lingot dump-ir` through the binary: the graph before and after passes, `--after`,
//! `--after-all`, `--stats` (its launch count checked against a count of the printed IR), the
//! launch budget of issue 5 on Ling-mini-2.0's shapes, and bad flags.

mod common;

use common::{lingot, lingot_ok};
use lingot_ir::{parse, Graph, Op};

fn ops(g: &Graph) -> Vec<&'static str> {
    g.g.node_weights().map(|n| n.op.name()).collect()
}

#[test]
fn without_pass_flags_it_prints_the_front_end_graph() {
    let g = parse(&lingot_ok(&["dump-ir"], None)).expect("dump-ir output parses");
    let names = ops(&g);
    assert!(
        names.contains(&"group_mask") && names.contains(&"sigmoid"),
        "the unfused router"
    );
    assert!(
        !g.g.node_weights().any(|n| n.op.is_fused()),
        "no fused op before passes"
    );
}

#[test]
fn passes_default_prints_the_fused_graph() {
    let g = parse(&lingot_ok(&["dump-ir", "--passes", "default"], None)).expect("parses");
    let names = ops(&g);
    for fused in [
        "moe_router",
        "moe_gate_up",
        "moe_down",
        "qkv_norm_rope",
        "rms_norm_mul",
        "gate_up",
        "mul_mat_add",
    ] {
        assert!(names.contains(&fused), "{fused} missing after the default pipeline");
    }
    for gone in [
        "sigmoid",
        "group_mask",
        "top_k",
        "slice",
        "kv_write",
        "rms_norm",
        "silu",
    ] {
        assert!(!names.contains(&gone), "{gone} left after the default pipeline");
    }
}

#[test]
fn after_all_prints_each_stage_under_its_header() {
    let out = lingot_ok(&["dump-ir", "--passes", "fuse-moe-router,dce", "--after-all"], None);
    let mut sections: Vec<(String, String)> = vec![];
    for line in out.lines() {
        match line.strip_prefix("; ") {
            Some(header) => sections.push((header.to_string(), String::new())),
            None => {
                let (_, text) = sections.last_mut().expect("a header comes first");
                text.push_str(line);
                text.push('\n');
            }
        }
    }
    let headers: Vec<&str> = sections.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(headers, ["before passes", "after fuse-moe-router", "after dce"]);
    let graphs: Vec<Graph> = sections
        .iter()
        .map(|(h, text)| parse(text).unwrap_or_else(|e| panic!("section {h}: {e}")))
        .collect();
    assert!(!ops(&graphs[0]).contains(&"moe_router") && ops(&graphs[1]).contains(&"moe_router"));
}

#[test]
fn after_prints_the_graph_right_after_that_pass() {
    let g = parse(&lingot_ok(&["dump-ir", "--after", "fuse-moe-router"], None)).expect("parses");
    let names = ops(&g);
    assert!(names.contains(&"moe_router"));
    assert!(!names.contains(&"moe_gate_up"), "later passes must not have run");
}

/// The `kernel launches per decode token: N` lines of a `--stats` output, in order.
fn launch_lines(stats: &str) -> Vec<usize> {
    stats
        .lines()
        .filter_map(|l| l.strip_prefix("kernel launches per decode token: "))
        .map(|n| n.parse().unwrap_or_else(|e| panic!("{n:?}: {e}")))
        .collect()
}

/// Launches by the rule of issue 5, counted on the printed IR: every node but declarations
/// (`input`, `weight`), views (`reshape`; `slice` of a weight, which the model never has) and
/// the norms that decode folds into the mat-vecs that read them, the shared experts' gate_up and
/// down product, which it folds into moe_gate_up and moe_down, and the router logits, which the
/// router's launch computes.
fn count_launches(g: &Graph) -> usize {
    use lingot_passes::stats::{norm_folds, router_logits_fold, shared_expert_fold_of};
    let folded = |id| {
        norm_folds(g, id)
            || shared_expert_fold_of(g, id).is_some_and(|f| id == f.gate_up || id == f.down)
            || router_logits_fold(g, id)
    };
    g.g.node_indices()
        .filter(|&id| !matches!(g.node(id).op, Op::Input { .. } | Op::Weight { .. } | Op::Reshape { .. }))
        .filter(|&id| !folded(id))
        .count()
}

#[test]
fn stats_count_the_launches_of_the_printed_graphs() {
    let stats = lingot_ok(&["dump-ir", "--stats"], None);
    let before = parse(&lingot_ok(&["dump-ir"], None)).expect("parses");
    let after = parse(&lingot_ok(&["dump-ir", "--passes", "default"], None)).expect("parses");
    assert_eq!(launch_lines(&stats), [count_launches(&before), count_launches(&after)]);
    assert!(
        stats.contains("activation memory, decode (t = 1, kv = 4096): "),
        "{stats}"
    );
    assert!(
        stats.contains("activation memory, prefill (t = 512, kv = 512): "),
        "{stats}"
    );
}

#[test]
fn stats_with_no_fuse_count_only_the_unfused_graph() {
    let stats = lingot_ok(&["dump-ir", "--stats", "--no-fuse"], None);
    let before = parse(&lingot_ok(&["dump-ir"], None)).expect("parses");
    assert_eq!(launch_lines(&stats), [count_launches(&before)], "{stats}");
    assert!(!stats.contains("; after "), "{stats}");
}

/// `kernel launches per layer: dense D, MoE M; outside the layers: O` of the fused graph.
fn per_layer(stats: &str) -> (usize, usize, usize) {
    let after = stats.split("; after ").nth(1).expect("an after section");
    let line = after
        .lines()
        .find_map(|l| l.strip_prefix("kernel launches per layer: "))
        .expect("a per-layer line");
    let num = |key: &str| -> usize {
        let rest = &line[line.find(key).unwrap_or_else(|| panic!("{key} in {line:?}")) + key.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().unwrap_or_else(|e| panic!("{line:?}: {e}"))
    };
    (num("dense "), num("MoE "), num("outside the layers: "))
}

#[test]
fn ling_mini_meets_the_launch_budget() {
    let stats = lingot_ok(&["dump-ir", "--preset", "ling-mini-2.0", "--stats"], None);
    let (dense, moe, outside) = per_layer(&stats);
    assert!(
        dense <= 12 && moe <= 12,
        "{dense} launches per dense layer, {moe} per MoE layer: over 12"
    );
    assert!(outside <= 8, "{outside} launches outside the layers: over 8");
    // 20 layers, 1 of them dense
    assert_eq!(launch_lines(&stats)[1], outside + dense + 19 * moe);
}

#[test]
fn bad_flags_are_clear_errors() {
    let o = lingot(&["dump-ir", "--passes", "dce,fuse-everything"], None);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("fuse-everything") && err.contains("fuse-moe-router"),
        "{err}"
    );
    let o = lingot(&["dump-ir", "--passes", "dce", "--after", "cse"], None);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("--after cse"), "{err}");
    let o = lingot(&["dump-ir", "--preset", "ling-9t"], None);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("ling-mini-2.0"));
}
