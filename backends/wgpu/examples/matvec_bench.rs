//! Decode-path throughput: a chain of square quantized mat-vecs (one forward pass each run, as
//! in decoding), and an expert-indexed one. Prints effective weight bandwidth per dtype.
//!
//! `cargo run --release -p lingot-wgpu --example matvec_bench [K] [LAYERS]`

use std::collections::HashMap;
use std::time::Instant;

use lingot_ir::exec::{Backend, HostTensor, WeightData, Weights};
use lingot_ir::{shape, Bindings, DType, Graph, Op, Sym, TensorType, Value};
use rand::{Rng, SeedableRng};

struct Mem(HashMap<String, (DType, Vec<usize>, Vec<u8>)>);

impl Weights for Mem {
    fn weight(&self, name: &str) -> Option<WeightData<'_>> {
        self.0.get(name).map(|(d, s, b)| WeightData {
            dtype: *d,
            shape: s,
            bytes: b,
        })
    }
}

fn random_blocks(r: &mut rand::rngs::StdRng, dtype: DType, elems: usize) -> Vec<u8> {
    let bytes = elems / dtype.block_elems() * dtype.block_bytes();
    // random bits with small f16 scales would be nicer; for timing any bits do, except NaN/inf
    // scales, so clear the top exponent bit of every 16-bit word
    (0..bytes)
        .map(|i| {
            if i % 2 == 1 {
                r.random::<u8>() & 0x3B
            } else {
                r.random()
            }
        })
        .collect()
}

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let k = args.first().copied().unwrap_or(4096);
    let layers = args.get(1).copied().unwrap_or(16);
    let adapter = match lingot_wgpu::pick(false, None) {
        Ok(Some(a)) => a,
        other => panic!("no adapter: {:?}", other.err()),
    };
    println!("{}", adapter.get_info().name);
    overhead(&adapter);
    experts(&adapter);
    let mut r = rand::rngs::StdRng::seed_from_u64(1);
    for dtype in [DType::Q4K, DType::Q5K, DType::Q6K, DType::Q8_0, DType::F16] {
        let mut w = Mem(HashMap::new());
        let mut g = Graph::new();
        let mut x: Value = g.input("x", TensorType::new(DType::F32, shape![Sym::T, k]));
        let mut bytes = 0;
        for l in 0..layers {
            let name = format!("w{l}");
            let data = random_blocks(&mut r, dtype, k * k);
            bytes += data.len();
            w.0.insert(name.clone(), (dtype, vec![k, k], data));
            let wv = g.weight(&name, TensorType::new(dtype, shape![k, k]));
            let y: Value = g.push(Op::MulMat, &[wv, x]).expect("mul_mat").into();
            x = g.push(Op::RmsNorm { eps: 1e-6 }, &[y]).expect("norm").into();
        }
        g.output(x, "y");
        for (label, options) in [
            (
                "subgroups",
                lingot_wgpu::WgpuOptions {
                    context: 16,
                    ..Default::default()
                },
            ),
            (
                "portable",
                lingot_wgpu::WgpuOptions {
                    context: 16,
                    subgroups: false,
                    shader_f16: false,
                    ..Default::default()
                },
            ),
        ] {
            let mut be = lingot_wgpu::WgpuBackend::new(&adapter, &w, options).expect("backend");
            for t in [1usize, 8, 64] {
                let input = HostTensor::F32 {
                    shape: vec![t, k],
                    data: vec![0.01; t * k],
                };
                let b = Bindings { t, kv: t };
                be.run(&g, &[("x", input.clone())], b).expect("warm-up");
                let reps = if t == 64 { 3 } else { 10 };
                let start = Instant::now();
                for _ in 0..reps {
                    be.run(&g, &[("x", input.clone())], b).expect("run");
                }
                let s = start.elapsed().as_secs_f64() / reps as f64;
                println!(
                    "{dtype:>5} {label:>9} t={t:<3} {layers} x [{k},{k}]: {:8.3} ms/pass, {:7.1} GB/s of weights",
                    s * 1e3,
                    bytes as f64 / s / 1e9
                );
            }
        }
    }
}

/// Fixed cost of a pass and cost per launch: chains of `scale` ops on a small tensor.
fn overhead(adapter: &wgpu::Adapter) {
    let w = Mem(HashMap::new());
    for ops in [1usize, 64, 512] {
        let mut g = Graph::new();
        let mut x: Value = g.input("x", TensorType::new(DType::F32, shape![Sym::T, 1024]));
        for _ in 0..ops {
            x = g
                .push(Op::Scale { factor: 1.0, bias: 0.0 }, &[x])
                .expect("scale")
                .into();
        }
        g.output(x, "y");
        let mut be = lingot_wgpu::WgpuBackend::new(adapter, &w, Default::default()).expect("backend");
        let input = HostTensor::F32 {
            shape: vec![1, 1024],
            data: vec![1.0; 1024],
        };
        let b = Bindings { t: 1, kv: 1 };
        be.run(&g, &[("x", input.clone())], b).expect("warm-up");
        let reps = 20;
        let start = Instant::now();
        for _ in 0..reps {
            be.run(&g, &[("x", input.clone())], b).expect("run");
        }
        let s = start.elapsed().as_secs_f64() / reps as f64;
        println!(
            "overhead: {ops:4} launches: {:8.3} ms/pass, {:6.2} us/launch",
            s * 1e3,
            s * 1e6 / ops as f64
        );
    }
}

/// The MoE decode path: 16 expert-indexed mat-vecs over [256, 512, 2048] Q4_K experts, 8 of
/// them per token.
fn experts(adapter: &wgpu::Adapter) {
    let mut r = rand::rngs::StdRng::seed_from_u64(2);
    let (e, n, k, slots, layers) = (256usize, 512usize, 2048usize, 8usize, 16usize);
    let mut w = Mem(HashMap::new());
    let mut g = Graph::new();
    let x: Value = g.input("x", TensorType::new(DType::F32, shape![Sym::T, 1, k]));
    let ids: Value = g.input("ids", TensorType::new(DType::I32, shape![Sym::T, slots]));
    for l in 0..layers {
        let name = format!("e{l}");
        w.0.insert(
            name.clone(),
            (DType::Q4K, vec![e, n, k], random_blocks(&mut r, DType::Q4K, e * n * k)),
        );
        let wv = g.weight(&name, TensorType::new(DType::Q4K, shape![e, n, k]));
        let y: Value = g.push(Op::MulMatId, &[wv, x, ids]).expect("mul_mat_id").into();
        g.output(y, &format!("y{l}"));
    }
    let mut be = lingot_wgpu::WgpuBackend::new(adapter, &w, Default::default()).expect("backend");
    let t = 1;
    let inputs = [
        (
            "x",
            HostTensor::F32 {
                shape: vec![t, 1, k],
                data: vec![0.01; t * k],
            },
        ),
        (
            "ids",
            HostTensor::I32 {
                shape: vec![t, slots],
                data: (0..slots as i32).map(|i| i * 31).collect(),
            },
        ),
    ];
    let b = Bindings { t, kv: t };
    be.run(&g, &inputs, b).expect("warm-up");
    let reps = 10;
    let start = Instant::now();
    for _ in 0..reps {
        be.run(&g, &inputs, b).expect("run");
    }
    let sec = start.elapsed().as_secs_f64() / reps as f64;
    let bytes = layers * slots * n * k / 256 * 144;
    println!(
        "experts: {layers} x mul_mat_id q4_k [{e},{n},{k}] k={slots} t=1: {:.3} ms/pass, {:.1} GB/s of active weights",
        sec * 1e3,
        bytes as f64 / sec / 1e9
    );
}
