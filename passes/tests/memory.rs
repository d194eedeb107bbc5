//! The activation memory plan against plans worked out by hand.

use lingot_ir::{parse, Bindings};
use lingot_passes::memory::plan_memory;

#[test]
fn a_chain_needs_two_buffers_that_alternate() {
    // a, b, c each [t, 4] f32 = 32 bytes at t = 2. a and b are live together when b is computed
    // (a result never shares its operand's buffer); a's buffer is free after b, so c takes it.
    let g = parse(
        r#"
%x = input "x"    : f32[t, 4]
%a = silu %x      : f32[t, 4]
%b = silu %a      : f32[t, 4]
%c = silu %b      : f32[t, 4]
output %c "out"
"#,
    )
    .expect("parses");
    let p = plan_memory(&g, Bindings { t: 2, kv: 2 }).expect("plans");
    assert_eq!(p.buffers, [32, 32]);
    assert_eq!(p.total_bytes, 64);
    assert_eq!(p.peak_live_bytes, 64);
    let order = g.topo_order().expect("acyclic");
    let buf = |i: usize| p.assignment[&order[i].into()];
    assert_eq!((buf(1), buf(2), buf(3)), (0, 1, 0));
    assert!(
        !p.assignment.contains_key(&order[0].into()),
        "inputs have their own buffer"
    );
}

#[test]
fn a_reshape_shares_its_buffer_and_keeps_it_alive() {
    // r is a view of a: a's buffer lives until r's reader d. b (64 bytes) then c (16 bytes):
    // c fits nothing free (a is still held by r), so three buffers.
    let g = parse(
        r#"
%x = input "x"                        : f32[t, 4]
%w = weight "w"                       : f32[2, 4]
%a = silu %x                          : f32[t, 4]
%r = reshape %a {shape = [t, 2, 2]}   : f32[t, 2, 2]
%b = mul_mat %w, %x                   : f32[t, 2]
%c = sigmoid %b                       : f32[t, 2]
%d = rms_norm %r {eps = 1e-6}         : f32[t, 2, 2]
%e = sum %d {axis = 2}                : f32[t, 2, 1]
output %c "c"
output %e "e"
"#,
    )
    .expect("parses");
    let p = plan_memory(&g, Bindings { t: 2, kv: 2 }).expect("plans");
    let order = g.topo_order().expect("acyclic");
    let of = |name_index: usize| p.assignment[&order[name_index].into()];
    // order: x w a r b c d e
    assert_eq!(of(3), of(2), "the reshape is its operand's buffer");
    // a: 32 bytes (buffer 0); b: 16 (buffer 1); c: 16, a and b live -> buffer 2;
    // d: 32, b freed after c -> best fit for 32 is none (buffer 1 is 16), a freed only after d -> new buffer 3;
    // e: 16, a's buffer (32) and b's (16) are free -> best fit is b's 16.
    assert_eq!(p.buffers, [32, 16, 16, 32]);
    assert_eq!(of(7), 1);
    assert_eq!(
        p.peak_live_bytes,
        32 + 16 + 16 + 32 - 16,
        "at d: a, c (an output), d live; b freed after c"
    );
}

#[test]
fn weights_views_and_kv_caches_take_no_activation_buffer() {
    let g = parse(
        r#"
%w = weight "w"                         : f32[8, 4]
%s = slice %w {axis = 0, start = 0, len = 2} : f32[2, 4]
%x = input "x"                          : f32[t, 2, 4]
%k = kv_write %x {cache = "k.0"}        : f32[kv, 2, 4]
%a = attention %x, %k, %k {scale = 1.0} : f32[t, 2, 4]
%o = mul %a, %s                         : f32[t, 2, 4]
output %o "out"
"#,
    )
    .expect("parses");
    let p = plan_memory(&g, Bindings { t: 3, kv: 5 }).expect("plans");
    // only the attention output and the product: 3 * 2 * 4 * 4 bytes each
    assert_eq!(p.buffers, [96, 96]);
    assert_eq!(p.assignment.len(), 2);
}
