//! Shared by the GPU tests: the adapter to test on, weights held in memory, random tensors and
//! quantized blocks, and error measures.
#![allow(dead_code)]

use std::collections::HashMap;

use half::{bf16, f16};
use lingot_ir::exec::{WeightData, Weights};
use lingot_ir::DType;
use lingot_wgpu::{WgpuBackend, WgpuOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A real GPU if the machine has one, else the software Vulkan adapter (lavapipe, a
/// `DeviceType::Cpu` adapter) — chosen explicitly, so the tests run on machines without a GPU.
pub fn adapter() -> wgpu::Adapter {
    let all = lingot_wgpu::device::adapters();
    let real = all.iter().find(|a| {
        matches!(
            a.get_info().device_type,
            wgpu::DeviceType::DiscreteGpu | wgpu::DeviceType::IntegratedGpu
        )
    });
    let soft = all.iter().find(|a| a.get_info().device_type == wgpu::DeviceType::Cpu);
    match real.or(soft) {
        Some(a) => a.clone(),
        None => panic!("no GPU and no software Vulkan adapter (lavapipe): install mesa-vulkan-drivers"),
    }
}

/// The backend on [`adapter`]. With `LINGOT_REQUIRE_COOP=1` in the environment (runs on a GPU
/// that has cooperative matrices), options that allow them must get them, so that the
/// cooperative-matrix products are what those runs check.
pub fn backend<'w>(w: &'w dyn Weights, options: WgpuOptions) -> WgpuBackend<'w> {
    let want_coop = options.coop_matrix && options.subgroups && options.shader_f16;
    let b = WgpuBackend::new(&adapter(), w, options).expect("open the wgpu backend");
    if want_coop && std::env::var("LINGOT_REQUIRE_COOP").as_deref() == Ok("1") {
        assert!(
            b.caps().coop,
            "LINGOT_REQUIRE_COOP=1, but {:?} has no cooperative matrices",
            b.caps()
        );
    }
    b
}

/// Options with subgroups and shader-f16 forced off (the portable paths), split attention merged
/// by a launch of its own (as on Metal and D3D12), and a run submitted in parts of three launches
/// (so every portable test also runs across several submits).
pub fn portable(context: usize) -> WgpuOptions {
    WgpuOptions {
        context,
        subgroups: false,
        shader_f16: false,
        launches_per_submit: 3,
        attention_merge: lingot_wgpu::AttentionMerge::Launch,
        ..WgpuOptions::default()
    }
}

pub fn default_options(context: usize) -> WgpuOptions {
    WgpuOptions {
        context,
        ..WgpuOptions::default()
    }
}

/// Weights held in memory: name → (dtype, shape, bytes).
#[derive(Default)]
pub struct MemWeights(pub HashMap<String, (DType, Vec<usize>, Vec<u8>)>);

impl MemWeights {
    pub fn add(&mut self, name: &str, dtype: DType, shape: &[usize], bytes: Vec<u8>) {
        self.0.insert(name.into(), (dtype, shape.to_vec(), bytes));
    }
}

impl Weights for MemWeights {
    fn weight(&self, name: &str) -> Option<WeightData<'_>> {
        self.0.get(name).map(|(dtype, shape, bytes)| WeightData {
            dtype: *dtype,
            shape,
            bytes,
        })
    }
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

pub fn randn(r: &mut StdRng, n: usize) -> Vec<f32> {
    (0..n).map(|_| r.random_range(-1.0f32..1.0)).collect()
}

/// Byte offsets of the f16 scales (and mins) in a block of `dtype`.
fn scale_offsets(dtype: DType) -> &'static [usize] {
    match dtype {
        DType::Q8_0 | DType::Q4_0 | DType::Q5_0 => &[0],
        DType::Q4_1 | DType::Q5_1 | DType::Q4K | DType::Q5K => &[0, 2],
        DType::Q2K => &[80, 82],
        DType::Q3K => &[108],
        DType::Q6K => &[208],
        DType::F32 | DType::F16 | DType::BF16 | DType::I32 => &[],
    }
}

/// `rows` rows of `k` elements of `dtype`, random: quant blocks of random bits whose f16 scales
/// are sane (|d| in [2^-10, 2^-4], either sign), plain types from random floats.
pub fn random_weight(r: &mut StdRng, dtype: DType, rows: usize, k: usize) -> Vec<u8> {
    let n = rows * k;
    match dtype {
        DType::F32 => randn(r, n).iter().flat_map(|v| v.to_le_bytes()).collect(),
        DType::F16 => randn(r, n)
            .iter()
            .flat_map(|v| f16::from_f32(*v).to_le_bytes())
            .collect(),
        DType::BF16 => randn(r, n)
            .iter()
            .flat_map(|v| bf16::from_f32(*v).to_le_bytes())
            .collect(),
        DType::I32 => panic!("i32 is not a weight dtype"),
        _ => {
            let blocks = n / dtype.block_elems();
            let bb = dtype.block_bytes();
            let mut out: Vec<u8> = (0..blocks * bb).map(|_| r.random()).collect();
            for b in 0..blocks {
                for &o in scale_offsets(dtype) {
                    let mag = r.random_range(-10.0f32..-4.0).exp2();
                    let v = if r.random() { mag } else { -mag };
                    out[b * bb + o..b * bb + o + 2].copy_from_slice(&f16::from_f32(v).to_le_bytes());
                }
            }
            out
        }
    }
}

/// ggml test-backend-ops' normalized mean squared error: Σ(a - b)² / Σ b².
pub fn nmse(got: &[f32], want: &[f32]) -> f64 {
    assert_eq!(got.len(), want.len(), "lengths differ");
    let (mut num, mut den) = (0f64, 0f64);
    for (g, w) in got.iter().zip(want) {
        num += ((*g as f64) - (*w as f64)).powi(2);
        den += (*w as f64).powi(2);
    }
    if den == 0.0 {
        num
    } else {
        num / den
    }
}
