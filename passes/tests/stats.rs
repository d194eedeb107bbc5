//! Op counts and kernel launches on graphs counted by hand: one per computing op by design, and
//! as lingot-wgpu's lowering records them.

use lingot_ir::parse;
use lingot_passes::stats::{launches, launches_wgpu, op_stats};

#[test]
fn views_cost_nothing_copies_and_addends_cost_a_launch() {
    let g = parse(
        r#"
%w = weight "w"                                   : f32[4, 6, 8]
%ws = slice %w {axis = 0, start = 0, len = 2}     : f32[2, 6, 8]
%wr = reshape %ws {shape = [2, 6, 8]}             : f32[2, 6, 8]
%x = input "x"                                    : f32[t, 16]
%xs = slice %x {axis = 1, start = 0, len = 8}     : f32[t, 8]
%l = input "logits"                               : f32[t, 2]
%ids = top_k %l {k = 1}                           : i32[t, 1]
%h = reshape %xs {shape = [t, 1, 8]}              : f32[t, 1, 8]
%d = mul_mat_id %wr, %h, %ids                     : f32[t, 1, 6]
%wd = weight "down"                               : f32[2, 8, 6]
%wt = input "weights"                             : f32[t, 1]
%a = input "a"                                    : f32[t, 8]
%o = moe_down %d, %wd, %ids, %wt, %a, %xs         : f32[t, 8]
output %o "out"
"#,
    )
    .expect("parses");
    // slice of an activation 1, top_k 1, mul_mat_id 1, moe_down 1 (its kernel adds the first
    // two addends as it writes); the weight slice and both reshapes are views
    assert_eq!(launches(&g), 4);
    assert_eq!(launches_wgpu(&g), 4);
    let s = op_stats(&g);
    assert_eq!(s.nodes, 13);
    assert_eq!(s.by_op["slice"], 2);
    assert_eq!(s.by_op["input"], 4);
    assert_eq!((s.launches, s.launches_wgpu), (4, 4));
}

#[test]
fn gate_and_up_stored_differently_take_three_launches() {
    let g = parse(
        r#"
%ids = input "ids"                    : i32[t, 2]
%g = weight "gate"                    : q8_0[4, 6, 32]
%u = weight "up"                      : f32[4, 6, 32]
%y = input "y"                        : f32[t, 32]
%h = moe_gate_up %y, %g, %u, %ids     : f32[t, 2, 6]
output %h "h"
"#,
    )
    .expect("parses");
    assert_eq!((launches(&g), launches_wgpu(&g)), (1, 3));
}

#[test]
fn qkv_norm_rope_is_one_launch() {
    let g = parse(
        r#"
%x = input "x"                        : f32[t, 8]
%pos = input "positions"              : i32[t]
%w = weight "w"                       : f32[24, 8]
%g = weight "g"                       : f32[6, 8]
%n = weight "n"                       : f32[4]
%qkv = mul_mat %w, %x                 : f32[t, 24]
%h = gate_up %x, %g, %g               : f32[t, 6]
%a = mul_mat_add %g, %x, %h           : f32[t, 6]
%q, %k, %v = qkv_norm_rope %qkv, %n, %n, %pos {heads = 2, kv_heads = 1, eps = 1e-6, n_rot = 2, freq_base = 10000.0, freq_scale = 1.0, k_cache = "k.0", v_cache = "v.0"} : f32[t, 2, 4], f32[kv, 1, 4], f32[kv, 1, 12]
output %a "a"
"#,
    )
    .expect("parses");
    // mul_mat 1, mul_mat_add 1, gate_up 1, qkv_norm_rope 1 (q, k and v in one kernel)
    assert_eq!((launches(&g), launches_wgpu(&g)), (4, 4));
}
