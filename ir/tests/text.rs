//! The text form: the hand-written every-op example is a fixed point, hand-written variants of
//! it parse to the same graph, and hundreds of random graphs survive print → parse → print.

mod common;

use common::{assert_same_structure, every_op_canonical, random, variant_index, variants_in, EVERY_OP, VARIANTS};
use lingot_ir::{op_from_parts, parse, print, verify, Attr, DType, Graph, Op, Operand, Shape, TensorType};

fn parse_ok(text: &str) -> Graph {
    parse(text).unwrap_or_else(|e| panic!("{e}\n--- text ---\n{text}"))
}

#[test]
fn every_op_example_covers_every_variant() {
    let g = parse_ok(EVERY_OP);
    assert_eq!(variants_in(&g), (0..VARIANTS).collect::<Vec<_>>());
}

#[test]
fn every_op_example_is_a_fixed_point() {
    let canonical = every_op_canonical();
    let g = parse_ok(EVERY_OP);
    assert_eq!(print(&g), canonical);
    assert_eq!(print(&parse_ok(&canonical)), canonical);
}

#[test]
fn every_op_example_has_the_types_and_names_written() {
    let g = parse_ok(EVERY_OP);
    let order = g.topo_order().unwrap();
    let router = order
        .iter()
        .copied()
        .find(|&id| matches!(g.node(id).op, Op::MoeRouter { .. }))
        .unwrap();
    let node = g.node(router);
    assert_eq!(node.name.as_deref(), Some("router.0"));
    assert_eq!(
        node.results[0],
        TensorType::new(DType::I32, lingot_ir::shape![lingot_ir::Sym::T, 4])
    );
    assert_eq!(
        node.op,
        Op::MoeRouter {
            groups: 4,
            keep: 2,
            k: 4,
            norm: true,
            scale: 2.5
        }
    );
    let swiglu = order.iter().copied().find(|&id| g.node(id).op == Op::SwiGlu).unwrap();
    assert_eq!(g.node(swiglu).name.as_deref(), Some("a \"quoted\" name\twith\\escapes"));
    let scale = order
        .iter()
        .copied()
        .find(|&id| matches!(g.node(id).op, Op::Scale { .. }))
        .unwrap();
    match g.node(scale).op {
        Op::Scale { factor, bias } => assert_eq!((factor, bias.to_bits()), (2.5, (-0.0f32).to_bits())),
        ref other => panic!("{other:?}"),
    }
    let outs: Vec<&str> = g.outputs.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(outs, ["hidden", "order", "weights"]);
    assert_eq!(g.outputs[2].0.index, 1, "output %38 is moe_router's second result");
}

/// Free spacing, comments, blank lines, named values and integers for floats are accepted and
/// print canonically.
#[test]
fn loose_text_prints_canonically() {
    let loose = r#"
; a comment line

%tok = input "tokens":i32[t]     ; trailing comment
%emb=weight "token_embd.weight" : q8_0[1024,64]
  %x = get_rows %emb , %tok : f32[ t , 64 ] "inp_embd"
%y = scale %x {bias = 0, factor = 2} : f32[t, 64]
output %y "out;put"
"#;
    let want = r#"%0 = input "tokens"                      : i32[t]
%1 = weight "token_embd.weight"          : q8_0[1024, 64]
%2 = get_rows %1, %0                     : f32[t, 64]   "inp_embd"
%3 = scale %2 {factor = 2.0, bias = 0.0} : f32[t, 64]
output %3 "out;put"
"#;
    assert_eq!(print(&parse_ok(loose)), want);
}

/// Every op survives `op_from_parts(op.name(), op.attrs())` (input and weight pass their name as
/// the attribute `name`).
#[test]
fn op_from_parts_inverts_name_and_attrs() {
    let g = parse_ok(EVERY_OP);
    for node in g.g.node_weights() {
        let mut attrs = node.op.attrs();
        if let Op::Input { name } | Op::Weight { name } = &node.op {
            attrs.push(("name", Attr::Str(name.clone())));
        }
        assert_eq!(op_from_parts(node.op.name(), &attrs), Ok(node.op.clone()));
        let _ = variant_index(&node.op);
    }
}

#[test]
fn op_from_parts_rejects_bad_attrs() {
    let err = |name: &str, attrs: &[(&str, Attr)]| op_from_parts(name, attrs).unwrap_err();
    assert!(err("frobnicate", &[]).contains("unknown op `frobnicate`"));
    assert!(err("top_k", &[]).contains("missing attribute `k`"));
    assert!(err("top_k", &[("k", Attr::Int(2)), ("j", Attr::Int(1))]).contains("unknown attribute `j`"));
    assert!(err("top_k", &[("k", Attr::Int(2)), ("k", Attr::Int(1))]).contains("`k` given twice"));
    assert!(err("top_k", &[("k", Attr::Float(2.0))]).contains("`k` must be a non-negative integer"));
    assert!(err("argsort", &[("descending", Attr::Int(1))]).contains("`true` or `false`"));
    assert!(err("reshape", &[("shape", Attr::Int(1))]).contains("must be a shape"));
    assert!(err("kv_write", &[("cache", Attr::Shape(Shape::default()))]).contains("must be a string"));
}

/// Floats print so they parse back to the same bits, whatever the bits.
#[test]
fn float_attributes_keep_their_bits() {
    let mut bits: Vec<u32> = vec![0, 0x8000_0000, 1, 0x007f_ffff, 0x7f7f_ffff, 0x7f80_0000, 0xff80_0000];
    bits.extend((0..2000u32).map(|i| i.wrapping_mul(2_654_435_761)));
    for b in bits {
        let x = f32::from_bits(b);
        if x.is_nan() {
            continue;
        }
        let mut g = Graph::new();
        let v = g.input("x", TensorType::new(DType::F32, lingot_ir::shape![4]));
        let s = g.push(Op::Scale { factor: x, bias: 1.0 }, &[v]).unwrap();
        g.output(s.into(), "y");
        let back = parse_ok(&print(&g));
        let got: Vec<u32> = back
            .g
            .node_weights()
            .filter_map(|n| {
                if let Op::Scale { factor, .. } = n.op {
                    Some(factor.to_bits())
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(got, vec![b], "{x:?}");
    }
}

#[test]
fn random_graphs_round_trip() {
    let mut seen = vec![false; VARIANTS];
    for seed in 0..400 {
        let g = random::graph(seed, 5 + (seed as usize * 7) % 60);
        verify(&g).unwrap_or_else(|e| panic!("seed {seed}: generated graph fails to verify: {e}"));
        let text = print(&g);
        let back = parse_ok(&text);
        assert_eq!(print(&back), text, "seed {seed}");
        assert_same_structure(&g, &back);
        for v in variants_in(&g) {
            seen[v] = true;
        }
    }
    assert!(seen.iter().all(|s| *s), "variants never generated: {seen:?}");
}

/// Removing nodes leaves holes in the node indices and adding edges by hand can make index
/// order differ from topological order; printing renumbers either way.
#[test]
fn holes_and_out_of_order_indices_print_in_topological_order() {
    for seed in 0..100 {
        let mut g = random::graph(1000 + seed, 30);
        let outputs: Vec<_> = g.outputs.iter().map(|(v, _)| v.node).collect();
        let leaves: Vec<_> =
            g.g.node_indices()
                .filter(|&id| g.users(id).is_empty() && !outputs.contains(&id))
                .collect();
        for id in leaves.into_iter().step_by(2) {
            g.g.remove_node(id);
        }
        verify(&g).unwrap();
        let text = print(&g);
        let back = parse_ok(&text);
        assert_eq!(print(&back), text, "seed {seed}");
        assert_same_structure(&g, &back);
    }
    // A node added last but feeding the first op.
    let mut g = Graph::new();
    let x = g.input("x", TensorType::new(DType::F32, lingot_ir::shape![4]));
    let s = g.push(Op::Silu, &[x]).unwrap();
    g.g.remove_edge(g.g.find_edge(x.node, s).unwrap());
    let y = g.input("y", TensorType::new(DType::F32, lingot_ir::shape![4]));
    g.g.add_edge(y.node, s, Operand { slot: 0, result: 0 });
    g.output(s.into(), "out");
    let text = print(&g);
    assert_eq!(
        text,
        "%0 = input \"x\"                           : f32[4]\n\
         %1 = input \"y\"                           : f32[4]\n\
         %2 = silu %1                             : f32[4]\n\
         output %2 \"out\"\n"
    );
    assert_eq!(print(&parse_ok(&text)), text);
}

fn structural_hash(g: &Graph) -> u64 {
    use std::hash::BuildHasher;
    std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(g)
}

/// Backends key compiled plans by the graph's hash: equal graphs must hash alike, and a change of
/// any attribute, name or output must show.
#[test]
fn structural_hash_sees_every_attribute() {
    let g = parse_ok(EVERY_OP);
    assert_eq!(structural_hash(&g), structural_hash(&parse_ok(EVERY_OP)));
    assert_eq!(structural_hash(&g), structural_hash(&parse_ok(&print(&g))));
    let base = structural_hash(&g);
    let mut changed = 0;
    for id in g.g.node_indices() {
        let mut h = g.clone();
        let op = &mut h.g[id].op;
        match op {
            Op::Input { name } | Op::Weight { name } => name.push('x'),
            Op::RmsNorm { eps } | Op::RmsNormMul { eps } => *eps *= 2.0,
            Op::Scale { bias, .. } => *bias += 1.0,
            Op::TopK { k } => *k += 1,
            Op::Argsort { descending } => *descending = !*descending,
            _ => continue,
        }
        assert_ne!(
            structural_hash(&h),
            base,
            "changing {:?} left the hash as it was",
            h.g[id].op
        );
        changed += 1;
    }
    assert!(changed >= 6, "the example has inputs, weights and attributes to change");
    let mut h = g.clone();
    h.outputs[0].1.push('x');
    assert_ne!(structural_hash(&h), base);
}
