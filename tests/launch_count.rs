//! The launch count `lingot dump-ir --stats` prints (`lingot_passes::stats::launches_wgpu`, from
//! the graph alone) is the count of launches lingot-wgpu's plan really records
//! (`WgpuBackend::launches`) for a decode step, on the built-in model's graph before and after
//! the default pipeline, with one key split and with several (the last workgroup of a head
//! merges the splits: still one launch; norms read only by mat-vecs are folded into them, and
//! each MoE layer's shared expert into its routed experts' two kernels and its router logits into
//! the router's launch). Takes
//! the best wgpu adapter, lavapipe included, and fails without one.

use lingot_ir::{Bindings, Graph, NodeId};
use lingot_models::bailing_moe2::{build_graph, GraphOptions, HParams};
use lingot_models::gguf::GgufFile;
use lingot_passes::stats::{launches, launches_wgpu, norm_folds, router_fold, shared_expert_fold, FOLD_NORM_MAX_ROWS};
use lingot_wgpu::{WgpuBackend, WgpuOptions};

fn graph(file: &GgufFile, hp: &HParams, fused: bool) -> Graph {
    let mut g = build_graph(hp, file, GraphOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    if fused {
        lingot_passes::default_pipeline()
            .run_verified(&mut g)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    g
}

#[test]
fn stats_count_what_the_wgpu_plan_launches() {
    let path = std::path::Path::new(lingot::model::DEFAULT_MODEL);
    let file = GgufFile::open(path).unwrap_or_else(|e| panic!("{e}"));
    let hp = HParams::from_gguf(&file).unwrap_or_else(|e| panic!("{e}"));
    let adapter = lingot_wgpu::pick(false, None)
        .unwrap_or_else(|e| panic!("{e}"))
        .expect("a wgpu adapter (lavapipe will do: apt install mesa-vulkan-drivers)");
    let options = WgpuOptions {
        context: 512,
        ..WgpuOptions::default()
    };
    let mut be = WgpuBackend::new(&adapter, &file, options).unwrap_or_else(|e| panic!("{e}"));
    for fused in [false, true] {
        let g = graph(&file, &hp, fused);
        let counted = launches_wgpu(&g);
        for kv in [1, 40, 300] {
            let planned = be.launches(&g, Bindings { t: 1, kv }).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(planned, counted, "fused {fused}, decode at kv {kv}");
        }
        if fused {
            // the design of issue 5: every fused op one kernel, attention included; and in a decode
            // step every rms_norm_mul is folded into the mat-vecs that read it (the output's too,
            // below FOLD_NORM_MAX_ROWS rows)
            // (and each MoE layer's shared expert folded into moe_gate_up and moe_down, its
            // router logits computed by the router's launch)
            let folded = g.g.node_indices().filter(|&id| norm_folds(&g, id)).count();
            let count = |f: &dyn Fn(NodeId) -> bool| g.g.node_indices().filter(|&id| f(id)).count();
            let shared = count(&|id| shared_expert_fold(&g, id).is_some());
            let routers = count(&|id| router_fold(&g, id).is_some());
            assert_eq!(
                counted + folded + 2 * shared + routers,
                launches(&g),
                "one launch per computing op but the folded norms, shared experts and router logits"
            );
            let layers = hp.block_count;
            let (dense, moe) = (hp.leading_dense_block_count, layers - hp.leading_dense_block_count);
            let output_norm = usize::from(hp.vocab_size > FOLD_NORM_MAX_ROWS);
            assert_eq!(folded, 2 * layers + 1 - output_norm, "attention, ffn and output norms");
            assert_eq!(
                (shared, routers),
                (moe, moe),
                "a shared expert and a router a MoE layer"
            );
            assert_eq!(
                counted,
                6 * dense + 7 * moe + 2 + output_norm,
                "{dense} dense, {moe} MoE layers"
            );
        }
    }
}
