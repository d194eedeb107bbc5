//! Every shader variant the backend can emit parses and validates with naga, and translates to
//! SPIR-V, MSL and HLSL: Metal and D3D12 breakage shows up here without those GPUs. The
//! cooperative-matrix variants (`+coop`) are Vulkan's only: wgpu offers 16 x 16 cooperative
//! matrices through VK_KHR_cooperative_matrix alone, so they translate to SPIR-V here and the MSL
//! and HLSL tests check that they are the only ones left out.

use lingot_wgpu::kernels::{all_variants, ShaderVariant};
use naga::valid::{Capabilities, ValidationFlags, Validator};

fn module(v: &ShaderVariant) -> (naga::Module, naga::valid::ModuleInfo) {
    let module = naga::front::wgsl::parse_str(&v.wgsl).unwrap_or_else(|e| {
        panic!(
            "{}: WGSL does not parse:\n{}\n{}",
            v.label,
            e.emit_to_string(&v.wgsl),
            v.wgsl
        )
    });
    // subgroups and shader-f16 are optional device features; f16 packing in f32
    // (unpack2x16float) is WebGPU baseline, granted by wgpu on Vulkan, Metal and D3D12
    let caps = Capabilities::SUBGROUP
        | Capabilities::SHADER_FLOAT16
        | Capabilities::SHADER_FLOAT16_IN_FLOAT32
        | Capabilities::COOPERATIVE_MATRIX;
    let info = Validator::new(ValidationFlags::all(), caps)
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: naga validation failed:\n{}", v.label, e.emit_to_string(&v.wgsl)));
    (module, info)
}

#[test]
fn variants_cover_every_kernel_and_dtype() {
    let vs = all_variants().expect("variants assemble");
    // 13 weight dtypes x 7 weight kernels, plus the others; subgroup and f16 forms on top
    assert!(vs.len() > 13 * 7 + 14, "only {} variants", vs.len());
    let mut labels: Vec<&str> = vs.iter().map(|v| v.label.as_str()).collect();
    labels.sort();
    let before = labels.len();
    labels.dedup();
    assert_eq!(before, labels.len(), "two variants share a label");
    assert!(labels.contains(&"mat_vec.q4_k+subgroups"));
    assert!(labels.contains(&"mat_vec.f16+f16"));
    assert!(labels.contains(&"mat_vec.f16"));
    assert!(labels.contains(&"mat_mul.q4_k+coop"));
    assert!(labels.contains(&"mat_mul_id.q6_k+coop"));
    assert!(
        !labels.contains(&"mat_mul.f32+coop"),
        "f32 weights keep the exact f32 tiles"
    );
}

/// The variants a non-Vulkan backend can get (all but the cooperative-matrix ones).
fn portable() -> Vec<ShaderVariant> {
    let all = all_variants().expect("variants assemble");
    let n = all.len();
    let v: Vec<ShaderVariant> = all.into_iter().filter(|v| !v.caps.coop).collect();
    assert!(
        v.len() < n && v.len() > n / 2,
        "{} of {n} variants are portable",
        v.len()
    );
    v
}

#[test]
fn every_variant_validates() {
    for v in all_variants().expect("variants assemble") {
        module(&v);
    }
}

#[test]
fn every_variant_translates_to_spirv() {
    for v in all_variants().expect("variants assemble") {
        let (m, info) = module(&v);
        // wgpu asks for the device's newest SPIR-V: 1.3 on Vulkan 1.1, 1.6 on Vulkan 1.3 (the
        // devices with cooperative matrices)
        let options = naga::back::spv::Options {
            lang_version: if v.caps.coop { (1, 6) } else { (1, 3) },
            ..Default::default()
        };
        let pipeline = naga::back::spv::PipelineOptions {
            shader_stage: naga::ShaderStage::Compute,
            entry_point: "main".into(),
        };
        let words = naga::back::spv::write_vec(&m, &info, &options, Some(&pipeline))
            .unwrap_or_else(|e| panic!("{}: SPIR-V: {e}", v.label));
        assert!(words.len() > 5, "{}", v.label);
    }
}

#[test]
fn every_variant_translates_to_msl() {
    for v in portable() {
        let (m, info) = module(&v);
        let options = naga::back::msl::Options {
            lang_version: (2, 4),
            ..Default::default()
        };
        let pipeline = naga::back::msl::PipelineOptions::default();
        let (src, _) = naga::back::msl::write_string(&m, &info, &options, &pipeline)
            .unwrap_or_else(|e| panic!("{}: MSL: {e}", v.label));
        assert!(src.contains("kernel"), "{}", v.label);
    }
}

#[test]
fn every_variant_translates_to_hlsl() {
    for v in portable() {
        let (m, info) = module(&v);
        let options = naga::back::hlsl::Options {
            shader_model: naga::back::hlsl::ShaderModel::V6_2,
            ..Default::default()
        };
        let pipeline = naga::back::hlsl::PipelineOptions::default();
        let mut src = String::new();
        naga::back::hlsl::Writer::new(&mut src, &options, &pipeline)
            .write(&m, &info, None)
            .unwrap_or_else(|e| panic!("{}: HLSL: {e}", v.label));
        assert!(src.contains("numthreads"), "{}", v.label);
    }
}
