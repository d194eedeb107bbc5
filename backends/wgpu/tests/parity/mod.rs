//! The op parity harness, in the spirit of ggml's test-backend-ops: tiny graphs on random inputs,
//! run on `lingot_cpu::CpuBackend` (the reference) and on the wgpu backend; f32 outputs must agree
//! within a normalized error per case, i32 outputs (indices) exactly.
#![allow(dead_code)]

use lingot_cpu::CpuBackend;
use lingot_ir::exec::{Backend, HostTensor};
use lingot_ir::{Bindings, DType, Graph, Op, Shape, TensorType, Value};
use lingot_wgpu::WgpuOptions;
use rand::rngs::StdRng;
use rand::Rng;

use crate::common::{self, MemWeights};

pub struct Case {
    pub name: String,
    pub graph: Graph,
    pub inputs: Vec<(String, HostTensor)>,
    pub b: Bindings,
    /// Largest normalized squared error allowed on f32 outputs.
    pub tol: f64,
}

/// Cases sharing one set of weights (so one backend of each kind runs them all).
pub struct Suite {
    pub weights: MemWeights,
    pub cases: Vec<Case>,
    pub rng: StdRng,
    next: usize,
}

/// Normalized error bounds: exact-ish data movement, f32 arithmetic, transcendental functions.
pub const EXACT: f64 = 1e-12;
pub const ARITH: f64 = 1e-10;
pub const TRANSCENDENTAL: f64 = 1e-8;

impl Suite {
    pub fn new(seed: u64) -> Suite {
        Suite {
            weights: MemWeights::default(),
            cases: vec![],
            rng: common::rng(seed),
            next: 0,
        }
    }

    /// A random weight node of `dtype[shape]` in `g`.
    pub fn weight(&mut self, g: &mut Graph, dtype: DType, shape: &[usize]) -> Value {
        let name = format!("w{}.{}", self.next, dtype.name());
        self.next += 1;
        let (k, rows) = shape
            .split_last()
            .map(|(k, r)| (*k, r.iter().product()))
            .unwrap_or((1, 1));
        let bytes = common::random_weight(&mut self.rng, dtype, rows, k);
        self.weights.add(&name, dtype, shape, bytes);
        g.weight(
            &name,
            TensorType::new(dtype, Shape(shape.iter().map(|d| (*d).into()).collect())),
        )
    }

    /// An f32 weight node of `shape` in `g` holding `data`.
    pub fn weight_f32(&mut self, g: &mut Graph, shape: &[usize], data: &[f32]) -> Value {
        let name = format!("w{}.f32", self.next);
        self.next += 1;
        let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.weights.add(&name, DType::F32, shape, bytes);
        g.weight(
            &name,
            TensorType::new(DType::F32, Shape(shape.iter().map(|d| (*d).into()).collect())),
        )
    }

    pub fn f32s(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.rng.random_range(lo..hi)).collect()
    }

    /// Adds a case computing `outputs` of `g`.
    pub fn case(
        &mut self,
        name: impl Into<String>,
        g: Graph,
        inputs: Vec<(String, HostTensor)>,
        b: Bindings,
        tol: f64,
    ) {
        self.cases.push(Case {
            name: name.into(),
            graph: g,
            inputs,
            b,
            tol,
        });
    }
}

pub fn f32_input(g: &mut Graph, name: &str, shape: Shape) -> Value {
    g.input(name, TensorType::new(DType::F32, shape))
}

pub fn i32_input(g: &mut Graph, name: &str, shape: Shape) -> Value {
    g.input(name, TensorType::new(DType::I32, shape))
}

pub fn push(g: &mut Graph, op: Op, operands: &[Value]) -> Value {
    let name = op.name();
    g.push(op, operands)
        .unwrap_or_else(|e| panic!("building {name}: {e}"))
        .into()
}

pub fn host_f32(shape: &[usize], data: Vec<f32>) -> HostTensor {
    assert_eq!(shape.iter().product::<usize>(), data.len());
    HostTensor::F32 {
        shape: shape.to_vec(),
        data,
    }
}

pub fn host_i32(shape: &[usize], data: Vec<i32>) -> HostTensor {
    assert_eq!(shape.iter().product::<usize>(), data.len());
    HostTensor::I32 {
        shape: shape.to_vec(),
        data,
    }
}

pub fn bind(t: usize) -> Bindings {
    Bindings { t, kv: t }
}

/// Compares two runs' outputs; `None` when they agree.
pub fn compare(case: &Case, want: &[HostTensor], got: &[HostTensor]) -> Option<String> {
    if want.len() != got.len() {
        return Some(format!("{} outputs, expected {}", got.len(), want.len()));
    }
    for (i, (w, g)) in want.iter().zip(got).enumerate() {
        if w.shape() != g.shape() {
            return Some(format!("output {i}: shape {:?}, expected {:?}", g.shape(), w.shape()));
        }
        match (w, g) {
            (HostTensor::F32 { data: wd, .. }, HostTensor::F32 { data: gd, .. }) => {
                // infinities (masked scores) must sit at the same places; the rest is measured
                let bad = wd
                    .iter()
                    .zip(gd)
                    .position(|(a, b)| (!a.is_finite() || !b.is_finite()) && a.to_bits() != b.to_bits());
                if let Some(j) = bad {
                    return Some(format!("output {i}: at {j}: cpu {}, gpu {}", wd[j], gd[j]));
                }
                let (wf, gf): (Vec<f32>, Vec<f32>) = wd
                    .iter()
                    .zip(gd)
                    .filter(|(a, _)| a.is_finite())
                    .map(|(a, b)| (*a, *b))
                    .unzip();
                let (wd, gd) = (&wf, &gf);
                let err = common::nmse(gd, wd);
                if err.is_nan() || err > case.tol {
                    let worst = wd
                        .iter()
                        .zip(gd)
                        .enumerate()
                        .max_by(|a, b| (a.1 .0 - a.1 .1).abs().total_cmp(&(b.1 .0 - b.1 .1).abs()))
                        .map(|(j, (a, b))| format!("worst at {j}: cpu {a}, gpu {b}"));
                    return Some(format!(
                        "output {i}: nmse {err:e} > {:e}; {}",
                        case.tol,
                        worst.unwrap_or_default()
                    ));
                }
            }
            (HostTensor::I32 { data: wd, .. }, HostTensor::I32 { data: gd, .. }) => {
                if wd != gd {
                    let j = wd.iter().zip(gd).position(|(a, b)| a != b).unwrap_or(0);
                    return Some(format!(
                        "output {i}: indices differ first at {j}: cpu {}, gpu {}",
                        wd[j], gd[j]
                    ));
                }
            }
            _ => return Some(format!("output {i}: dtype differs")),
        }
    }
    None
}

/// Runs every case on the CPU and on the GPU with `options`; panics listing every mismatch.
/// Returns the names of the cases run, for coverage checks.
pub fn run(suite: &Suite, options: WgpuOptions) -> Vec<String> {
    let mut cpu = CpuBackend::new(&suite.weights);
    let mut gpu = common::backend(&suite.weights, options);
    let mut failures = vec![];
    for case in &suite.cases {
        let inputs: Vec<(&str, HostTensor)> = case.inputs.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
        let want = cpu
            .run(&case.graph, &inputs, case.b)
            .unwrap_or_else(|e| panic!("{}: cpu: {e}", case.name));
        match gpu.run(&case.graph, &inputs, case.b) {
            Ok(got) => {
                if let Some(msg) = compare(case, &want, &got) {
                    failures.push(format!("{}: {msg}", case.name));
                }
            }
            Err(e) => failures.push(format!("{}: gpu error: {e}", case.name)),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed ({:?}):\n{}",
        failures.len(),
        suite.cases.len(),
        gpu.caps(),
        failures.join("\n")
    );
    suite.cases.iter().map(|c| c.name.clone()).collect()
}
