//! Weights larger than one storage binding are split over several buffers and still give the
//! CPU's results: the binding limit is lowered to a few hundred bytes so that small tensors split
//! (rows for get_rows and mul_mat, experts for the expert-indexed ops).

mod common;
mod parity;

use lingot_ir::{shape, DType, Graph, Op, Sym};
use lingot_wgpu::{WgpuError, WgpuOptions};
use parity::*;

const CHUNK: u64 = 1000;

fn options(subgroups: bool) -> WgpuOptions {
    WgpuOptions {
        context: 8,
        subgroups,
        shader_f16: subgroups,
        max_weight_chunk: Some(CHUNK),
        ..WgpuOptions::default()
    }
}

fn suite() -> (Suite, Vec<(String, usize)>) {
    let mut s = Suite::new(51);
    let mut expect = vec![];
    // get_rows: 40 rows of 68 bytes, 14 a chunk
    let mut g = Graph::new();
    let table = s.weight(&mut g, DType::Q8_0, &[40, 64]);
    let ids = i32_input(&mut g, "ids", shape![Sym::T]);
    let y = push(&mut g, Op::GetRows, &[table, ids]);
    g.output(y, "y");
    expect.push(("w0.q8_0".into(), 3));
    s.case(
        "get_rows over 3 chunks",
        g,
        vec![("ids".into(), host_i32(&[6], vec![0, 13, 14, 27, 28, 39]))],
        bind(6),
        EXACT,
    );
    // mul_mat: 20 rows of 144 bytes, 6 a chunk; mat-vec and tiled forms
    for t in [1, 12] {
        let mut g = Graph::new();
        let w = s.weight(&mut g, DType::Q4K, &[20, 256]);
        let x = f32_input(&mut g, "x", shape![Sym::T, 256]);
        let y = push(&mut g, Op::MulMat, &[w, x]);
        g.output(y, "y");
        let name = format!("w{}.q4_k", if t == 1 { 1 } else { 2 });
        expect.push((name, 4));
        let xs = s.f32s(t * 256, -1.0, 1.0);
        s.case(
            format!("mul_mat over 4 chunks, t {t}"),
            g,
            vec![("x".into(), host_f32(&[t, 256], xs))],
            bind(t),
            ARITH,
        );
    }
    // mul_mat_add over the same split (the addend is added chunk by chunk)
    let mut g = Graph::new();
    let w = s.weight(&mut g, DType::Q4K, &[20, 256]);
    let x = f32_input(&mut g, "x", shape![Sym::T, 256]);
    let a = f32_input(&mut g, "a", shape![Sym::T, 20]);
    let y = push(&mut g, Op::MulMatAdd, &[w, x, a]);
    g.output(y, "y");
    expect.push(("w3.q4_k".into(), 4));
    let inputs = vec![
        ("x".into(), host_f32(&[2, 256], s.f32s(512, -1.0, 1.0))),
        ("a".into(), host_f32(&[2, 20], s.f32s(40, -1.0, 1.0))),
    ];
    s.case("mul_mat_add over 4 chunks", g, inputs, bind(2), ARITH);
    // expert ops: 6 experts of 3 rows of 144 bytes, 2 experts a chunk; 4 tokens (mat-vec forms)
    // and 70 (prefill: pairs grouped by expert, one launch a chunk, expert 2 with 70 pairs over
    // two tiles of mat_mul_id's list, moe_gate_up's swiglu written by the up launches)
    for (round, t) in [(0, 4), (1, 70)] {
        let (e, n, k, slots) = (6, 3, 256, 2);
        let ids: Vec<i32> = match t {
            4 => vec![0, 5, 2, 3, 4, 1, 5, 2],
            _ => (0..t).flat_map(|i| [2, [0, 1, 3, 4, 5][i % 5]]).collect(),
        };
        let mut g = Graph::new();
        let w = s.weight(&mut g, DType::Q4K, &[e, n, k]);
        let gate = s.weight(&mut g, DType::Q4K, &[e, n, k]);
        let up = s.weight(&mut g, DType::Q4K, &[e, n, k]);
        let down = s.weight(&mut g, DType::Q4K, &[e, n, k]);
        let x = f32_input(&mut g, "x", shape![Sym::T, k]);
        let x3 = push(
            &mut g,
            Op::Reshape {
                shape: shape![Sym::T, 1, k],
            },
            &[x],
        );
        let idv = i32_input(&mut g, "ids", shape![Sym::T, slots]);
        let h = f32_input(&mut g, "h", shape![Sym::T, slots, k]);
        let wts = f32_input(&mut g, "wts", shape![Sym::T, slots]);
        let a = push(&mut g, Op::MulMatId, &[w, x3, idv]);
        let b = push(&mut g, Op::MoeGateUp, &[x, gate, up, idv]);
        let c = push(&mut g, Op::MoeDown, &[h, down, idv, wts]);
        g.output(a, "mul_mat_id");
        g.output(b, "moe_gate_up");
        g.output(c, "moe_down");
        for i in 4 + 4 * round..8 + 4 * round {
            expect.push((format!("w{i}.q4_k"), 3));
        }
        let inputs = vec![
            ("x".into(), host_f32(&[t, k], s.f32s(t * k, -1.0, 1.0))),
            ("ids".into(), host_i32(&[t, slots], ids)),
            ("h".into(), host_f32(&[t, slots, k], s.f32s(t * slots * k, -1.0, 1.0))),
            ("wts".into(), host_f32(&[t, slots], s.f32s(t * slots, 0.0, 1.0))),
        ];
        s.case(
            format!("expert ops over 3 chunks, t {t}"),
            g,
            inputs,
            bind(t),
            TRANSCENDENTAL,
        );
    }
    // a shared expert folded into moe_gate_up and moe_down (decode) while the routed experts
    // are split: 6 f16 experts of 8 rows of 32 bytes (gate, up) and 16 rows of 16 bytes (down),
    // 3 a chunk; the shared expert's weights fit one buffer and go with the first chunk
    let (e, n, k, slots) = (6, 8, 16, 2);
    let mut g = Graph::new();
    let gate = s.weight(&mut g, DType::F16, &[e, n, k]);
    let up = s.weight(&mut g, DType::F16, &[e, n, k]);
    let down = s.weight(&mut g, DType::F16, &[e, k, n]);
    let (gate_s, up_s) = (
        s.weight(&mut g, DType::F16, &[n, k]),
        s.weight(&mut g, DType::F16, &[n, k]),
    );
    let down_s = s.weight(&mut g, DType::F16, &[k, n]);
    let x = f32_input(&mut g, "x", shape![Sym::T, k]);
    let idv = i32_input(&mut g, "ids", shape![Sym::T, slots]);
    let wts = f32_input(&mut g, "wts", shape![Sym::T, slots]);
    let h = push(&mut g, Op::MoeGateUp, &[x, gate, up, idv]);
    let hs = push(&mut g, Op::GateUp, &[x, gate_s, up_s]);
    let sh = push(&mut g, Op::MulMat, &[down_s, hs]);
    let y = push(&mut g, Op::MoeDown, &[h, down, idv, wts, sh]);
    g.output(y, "y");
    for i in 12..15 {
        expect.push((format!("w{i}.f16"), 2));
    }
    let inputs = vec![
        ("x".into(), host_f32(&[1, k], s.f32s(k, -1.0, 1.0))),
        ("ids".into(), host_i32(&[1, slots], vec![5, 1])),
        ("wts".into(), host_f32(&[1, slots], s.f32s(slots, 0.0, 1.0))),
    ];
    s.case(
        "shared expert folded, experts over 2 chunks, t 1",
        g,
        inputs,
        bind(1),
        TRANSCENDENTAL,
    );
    (s, expect)
}

fn check(subgroups: bool) {
    let (s, expect) = suite();
    run(&s, options(subgroups));
    // the same weights on a fresh backend: count the chunks each was split into
    let mut gpu = common::backend(&s.weights, options(subgroups));
    for c in &s.cases {
        let ins: Vec<(&str, lingot_ir::exec::HostTensor)> =
            c.inputs.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
        lingot_ir::exec::Backend::run(&mut gpu, &c.graph, &ins, c.b).expect("gpu run");
    }
    for (name, chunks) in expect {
        assert_eq!(gpu.weight_chunks(&name), Some(chunks), "{name}");
    }
    // the folded shared expert: one moe_gate_up and one moe_down launch a chunk, none of its own
    let folded = s.cases.last().expect("the shared expert case");
    let n = gpu.launches(&folded.graph, folded.b).expect("launches");
    assert_eq!(n, 4, "{}: launches", folded.name);
}

#[test]
fn split_weights_match_cpu() {
    check(true);
}

#[test]
fn split_weights_match_cpu_without_subgroups() {
    check(false);
}

#[test]
fn a_row_larger_than_a_binding_is_a_clear_error() {
    let mut s = Suite::new(52);
    let mut g = Graph::new();
    let w = s.weight(&mut g, DType::Q8_0, &[4, 1024]); // rows of 1088 bytes
    let x = f32_input(&mut g, "x", shape![Sym::T, 1024]);
    let y = push(&mut g, Op::MulMat, &[w, x]);
    g.output(y, "y");
    let mut gpu = common::backend(&s.weights, options(true));
    let xs = host_f32(&[1, 1024], vec![0.5; 1024]);
    let err = lingot_ir::exec::Backend::run(&mut gpu, &g, &[("x", xs)], bind(1)).expect_err("too large");
    let msg = err.to_string();
    assert!(msg.contains("1088 bytes") && msg.contains(&CHUNK.to_string()), "{msg}");
    // and the WgpuError behind it names the limit
    let e = WgpuError::TooLarge {
        adapter: "x".into(),
        what: "y".into(),
        bytes: 1088,
        limit_name: "storage binding",
        limit: CHUNK,
    };
    assert!(e.to_string().contains("storage binding"));
}
