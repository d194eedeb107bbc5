//! Op parity, ops that read weights in their stored dtype, for every weight dtype: get_rows,
//! mul_mat (mat-vec form for up to 8 rows of x, tiled form beyond), mul_mat_id (x with one row per
//! token or per slot), moe_gate_up (same and mixed dtypes), moe_down (with addends); plus views
//! (slice, reshape) of weights. With and without subgroups.

mod common;
mod parity;

use lingot_ir::{shape, DType, Graph, Op, Sym};
use lingot_wgpu::kernels::WEIGHT_DTYPES;
use parity::*;

/// A row length for `dtype`: whole blocks, and not a multiple of 4 for the plain types.
fn row_len(dtype: DType, blocks: usize) -> usize {
    if dtype.is_quantized() {
        blocks * dtype.block_elems()
    } else {
        37 + 64 * (blocks - 1)
    }
}

fn get_rows_cases(s: &mut Suite, dtype: DType) {
    let k = row_len(dtype, 2);
    for t in [1, 5] {
        let mut g = Graph::new();
        let table = s.weight(&mut g, dtype, &[11, k]);
        let ids = i32_input(&mut g, "ids", shape![Sym::T, 2]);
        let y = push(&mut g, Op::GetRows, &[table, ids]);
        g.output(y, "y");
        let idv: Vec<i32> = (0..2 * t).map(|j| ((j * 5 + 2) % 11) as i32).collect();
        s.case(
            format!("get_rows {dtype} [11,{k}] by [{t},2]"),
            g,
            vec![("ids".into(), host_i32(&[t, 2], idv))],
            bind(t),
            EXACT,
        );
    }
}

fn mul_mat_cases(s: &mut Suite, dtype: DType) {
    // up to 150 rows: several 64-row tiles (tile.wgsl), the last in part
    for (n, blocks) in [(7, 1), (33, 2), (150, 1)] {
        let k = row_len(dtype, blocks);
        for t in [1, 3, 8, 9, 33] {
            let mut g = Graph::new();
            let w = s.weight(&mut g, dtype, &[n, k]);
            let x = f32_input(&mut g, "x", shape![Sym::T, k]);
            let y = push(&mut g, Op::MulMat, &[w, x]);
            g.output(y, "y");
            let xs = s.f32s(t * k, -1.0, 1.0);
            s.case(
                format!("mul_mat {dtype} [{n},{k}] x [{t},{k}]"),
                g,
                vec![("x".into(), host_f32(&[t, k], xs))],
                bind(t),
                ARITH,
            );
        }
    }
}

/// Expert ids for `t` tokens of `slots` (distinct per token, as a router makes them).
fn expert_ids(t: usize, slots: usize, experts: usize) -> Vec<i32> {
    (0..t)
        .flat_map(|i| (0..slots).map(move |j| ((i * 3 + j * 5 + 1) % experts) as i32))
        .collect()
}

fn mul_mat_id_cases(s: &mut Suite, dtype: DType) {
    // 70 rows: more than one 64-row tile (tile.wgsl)
    let (e, n, k, slots) = (5, 70, row_len(dtype, 2), 2);
    for t in [1, 3, 10] {
        for per_slot in [false, true] {
            let j = if per_slot { slots } else { 1 };
            let mut g = Graph::new();
            let w = s.weight(&mut g, dtype, &[e, n, k]);
            let x = f32_input(&mut g, "x", shape![Sym::T, j, k]);
            let ids = i32_input(&mut g, "ids", shape![Sym::T, slots]);
            let y = push(&mut g, Op::MulMatId, &[w, x, ids]);
            g.output(y, "y");
            let xs = s.f32s(t * j * k, -1.0, 1.0);
            let inputs = vec![
                ("x".into(), host_f32(&[t, j, k], xs)),
                ("ids".into(), host_i32(&[t, slots], expert_ids(t, slots, e))),
            ];
            s.case(
                format!("mul_mat_id {dtype} [{e},{n},{k}] x [{t},{j},{k}]"),
                g,
                inputs,
                bind(t),
                ARITH,
            );
        }
    }
}

fn moe_cases(s: &mut Suite, gate_dtype: DType, up_dtype: DType) {
    let (e, n, slots) = (4, 6, 3);
    // one block of the larger-block dtype (a whole number of the other's), or 37 if both are plain
    let block = gate_dtype.block_elems().max(up_dtype.block_elems());
    let k = if block > 1 { block } else { 37 };
    // t 19: more tokens than the mat-vec kernels take, so the pairs are grouped by expert
    for t in [1, 4, 19] {
        let mut g = Graph::new();
        let gate = s.weight(&mut g, gate_dtype, &[e, n, k]);
        let up = s.weight(&mut g, up_dtype, &[e, n, k]);
        let x = f32_input(&mut g, "x", shape![Sym::T, k]);
        let ids = i32_input(&mut g, "ids", shape![Sym::T, slots]);
        let y = push(&mut g, Op::MoeGateUp, &[x, gate, up, ids]);
        g.output(y, "y");
        let xs = s.f32s(t * k, -1.0, 1.0);
        let inputs = vec![
            ("x".into(), host_f32(&[t, k], xs)),
            ("ids".into(), host_i32(&[t, slots], expert_ids(t, slots, e))),
        ];
        s.case(
            format!("moe_gate_up {gate_dtype}/{up_dtype} [{e},{n},{k}] t {t}"),
            g,
            inputs,
            bind(t),
            TRANSCENDENTAL,
        );
    }
    // moe_down with 0, 1 and 2 addends, on the mat-vec path (t 3) and the grouped one (t 19)
    let (kd, nd) = (row_len(gate_dtype, 1), 5);
    for (addends, t) in [(0, 3), (1, 3), (2, 3), (0, 19), (2, 19)] {
        let mut g = Graph::new();
        let down = s.weight(&mut g, gate_dtype, &[e, nd, kd]);
        let h = f32_input(&mut g, "h", shape![Sym::T, slots, kd]);
        let ids = i32_input(&mut g, "ids", shape![Sym::T, slots]);
        let w = f32_input(&mut g, "w", shape![Sym::T, slots]);
        let mut operands = vec![h, down, ids, w];
        let mut inputs = vec![
            (
                "h".to_string(),
                host_f32(&[t, slots, kd], s.f32s(t * slots * kd, -1.0, 1.0)),
            ),
            ("ids".to_string(), host_i32(&[t, slots], expert_ids(t, slots, e))),
            ("w".to_string(), host_f32(&[t, slots], s.f32s(t * slots, 0.0, 1.0))),
        ];
        for a in 0..addends {
            let name = format!("a{a}");
            operands.push(f32_input(&mut g, &name, shape![Sym::T, nd]));
            inputs.push((name, host_f32(&[t, nd], s.f32s(t * nd, -1.0, 1.0))));
        }
        let y = push(&mut g, Op::MoeDown, &operands);
        g.output(y, "y");
        s.case(
            format!("moe_down {gate_dtype} [{e},{nd},{kd}] t {t} + {addends} addends"),
            g,
            inputs,
            bind(t),
            ARITH,
        );
    }
}

fn weight_view_cases(s: &mut Suite) {
    // rows 2..6 of a Q8_0 matrix, and the second block of each row
    let mut g = Graph::new();
    let w = s.weight(&mut g, DType::Q8_0, &[8, 64]);
    let rows = push(
        &mut g,
        Op::Slice {
            axis: 0,
            start: 2,
            len: 4,
        },
        &[w],
    );
    let cols = push(
        &mut g,
        Op::Slice {
            axis: 1,
            start: 32,
            len: 32,
        },
        &[w],
    );
    let x = f32_input(&mut g, "x", shape![Sym::T, 64]);
    let x2 = f32_input(&mut g, "x2", shape![Sym::T, 32]);
    let a = push(&mut g, Op::MulMat, &[rows, x]);
    let b = push(&mut g, Op::MulMat, &[cols, x2]);
    g.output(a, "a");
    g.output(b, "b");
    let inputs = vec![
        ("x".into(), host_f32(&[2, 64], s.f32s(128, -1.0, 1.0))),
        ("x2".into(), host_f32(&[2, 32], s.f32s(64, -1.0, 1.0))),
    ];
    s.case("slices of a q8_0 weight", g, inputs, bind(2), ARITH);
    // an expert tensor stored flat [E*N, K], reshaped to [E, N, K]
    let mut g = Graph::new();
    let flat = s.weight(&mut g, DType::Q4K, &[12, 256]);
    let w = push(
        &mut g,
        Op::Reshape {
            shape: shape![3, 4, 256],
        },
        &[flat],
    );
    let x = f32_input(&mut g, "x", shape![Sym::T, 1, 256]);
    let ids = i32_input(&mut g, "ids", shape![Sym::T, 2]);
    let y = push(&mut g, Op::MulMatId, &[w, x, ids]);
    g.output(y, "y");
    let inputs = vec![
        ("x".into(), host_f32(&[2, 1, 256], s.f32s(512, -1.0, 1.0))),
        ("ids".into(), host_i32(&[2, 2], vec![2, 0, 1, 2])),
    ];
    s.case("reshaped q4_k expert weight", g, inputs, bind(2), ARITH);
    // a BF16 weight feeding an elementwise op (dequantized once on the GPU)
    let mut g = Graph::new();
    let w = s.weight(&mut g, DType::BF16, &[3, 4]);
    let x = f32_input(&mut g, "x", shape![Sym::T, 3, 4]);
    let y = push(&mut g, Op::Mul, &[x, w]);
    g.output(y, "y");
    let xs = s.f32s(24, -1.0, 1.0);
    s.case(
        "bf16 weight in mul",
        g,
        vec![("x".into(), host_f32(&[2, 3, 4], xs))],
        bind(2),
        EXACT,
    );
}

fn suite(seed: u64, dtypes: &[DType]) -> Suite {
    let mut s = Suite::new(seed);
    for &d in dtypes {
        get_rows_cases(&mut s, d);
        mul_mat_cases(&mut s, d);
        mul_mat_id_cases(&mut s, d);
        moe_cases(&mut s, d, d);
    }
    s
}

#[test]
fn get_rows_and_mul_mat_match_cpu_for_every_dtype() {
    let names = run(&suite(21, &WEIGHT_DTYPES), common::default_options(16));
    for d in WEIGHT_DTYPES {
        for op in ["get_rows", "mul_mat", "mul_mat_id", "moe_gate_up", "moe_down"] {
            assert!(
                names.iter().any(|n| n.starts_with(&format!("{op} {d}"))),
                "no {op} case for {d}"
            );
        }
    }
}

#[test]
fn matrix_ops_match_cpu_without_subgroups_or_f16() {
    run(&suite(22, &WEIGHT_DTYPES), common::portable(16));
}

#[test]
fn mixed_dtype_moe_and_weight_views_match_cpu() {
    let mut s = Suite::new(23);
    moe_cases(&mut s, DType::Q4K, DType::Q6K);
    moe_cases(&mut s, DType::Q8_0, DType::F16);
    weight_view_cases(&mut s);
    run(&s, common::default_options(16));
}
