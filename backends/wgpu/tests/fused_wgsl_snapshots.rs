//! The final WGSL of each fused kernel (the kernels that exist for the fusion passes' ops), one
//! insta snapshot per variant, each validated by naga first. A change to a fused kernel's text
//! shows up in review (`cargo insta review`); CI never writes snapshots.

use lingot_wgpu::kernels::{all_variants, ShaderVariant};
use naga::valid::{Capabilities, ValidationFlags, Validator};

/// Kernel families that implement fused ops: rms_norm_mul, qkv_norm_rope, moe_router (and
/// moe_route, with its logits' product, decode), moe_gate_up, gate_up, moe_down (decode), and
/// moe_combine, which finishes moe_down in prefill.
const FUSED: [&str; 8] = [
    "rms_norm.mul",
    "norm_rope",
    "moe_router",
    "moe_route",
    "moe_gate_up",
    "gate_up",
    "moe_down",
    "moe_combine",
];

/// One representative weight dtype per fused matrix kernel (the dtype only swaps the reader).
fn wanted(v: &ShaderVariant) -> bool {
    let base = v.label.split('+').next().unwrap_or("");
    FUSED.iter().any(|f| base == *f || base == format!("{f}.q4_k"))
}

fn validate(v: &ShaderVariant) {
    let module = naga::front::wgsl::parse_str(&v.wgsl)
        .unwrap_or_else(|e| panic!("{}: WGSL does not parse:\n{}", v.label, e.emit_to_string(&v.wgsl)));
    let caps = Capabilities::SUBGROUP | Capabilities::SHADER_FLOAT16 | Capabilities::SHADER_FLOAT16_IN_FLOAT32;
    Validator::new(ValidationFlags::all(), caps)
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: naga validation failed:\n{}", v.label, e.emit_to_string(&v.wgsl)));
}

#[test]
fn fused_kernels_wgsl() {
    let variants: Vec<ShaderVariant> = all_variants()
        .expect("variants assemble")
        .into_iter()
        .filter(wanted)
        .collect();
    for family in FUSED {
        assert!(
            variants.iter().any(|v| v.label.starts_with(family)),
            "no shader variant for the fused kernel {family}"
        );
    }
    for v in &variants {
        validate(v);
        insta::assert_snapshot!(v.label.replace('+', "__"), &v.wgsl);
    }
}

/// Every stored snapshot belongs to a variant that still exists (cargo-insta's
/// `--unreferenced=reject`, without needing cargo-insta).
#[test]
fn no_unreferenced_snapshots() {
    let names: Vec<String> = all_variants()
        .expect("variants assemble")
        .into_iter()
        .filter(wanted)
        .map(|v| format!("fused_wgsl_snapshots__{}.snap", v.label.replace('+', "__")))
        .collect();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let name = entry
            .expect("directory entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if name.starts_with("fused_wgsl_snapshots__") {
            assert!(names.contains(&name), "{name} belongs to no shader variant: remove it");
        }
    }
}
