//! Adapter listing and picking.

mod common;

use lingot_wgpu::{list_adapters, pick, WgpuError};

#[test]
fn lists_adapters_with_limits() {
    let rows = list_adapters();
    assert!(!rows.is_empty(), "wgpu sees no adapter; lavapipe should be installed");
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.index, i);
        assert!(r.max_storage_binding_bytes >= 128 << 20, "{r}");
        assert!(!r.name.is_empty());
        println!("{r}");
    }
}

#[test]
fn auto_never_picks_a_software_adapter() {
    let rows = list_adapters();
    let real = rows
        .iter()
        .any(|r| matches!(r.device_type.as_str(), "DiscreteGpu" | "IntegratedGpu" | "VirtualGpu"));
    let picked = pick(true, None).expect("auto pick");
    match picked {
        Some(a) => assert!(real && a.get_info().device_type != wgpu::DeviceType::Cpu),
        None => assert!(!real, "a real GPU exists but auto picked none"),
    }
}

#[test]
fn explicit_wgpu_falls_back_to_software() {
    let a = pick(false, None).expect("explicit pick").expect("some adapter");
    let rows = list_adapters();
    if !rows.iter().any(|r| !r.software) {
        assert_eq!(a.get_info().device_type, wgpu::DeviceType::Cpu);
    }
}

#[test]
fn device_index_out_of_range_is_an_error() {
    let n = list_adapters().len();
    match pick(false, Some(n + 3)) {
        Err(WgpuError::NoSuchAdapter { index, count }) => assert_eq!((index, count), (n + 3, n)),
        other => panic!(
            "expected NoSuchAdapter, got {:?}",
            other.map(|a| a.map(|a| a.get_info().name))
        ),
    }
    assert!(pick(false, Some(0)).expect("adapter 0").is_some());
}

#[test]
fn opens_with_the_adapters_real_limits() {
    let w = common::MemWeights::default();
    let a = common::adapter();
    let be = lingot_wgpu::WgpuBackend::new(&a, &w, common::default_options(8)).expect("open");
    let name = lingot_ir::exec::Backend::name(&be);
    assert!(name.starts_with("wgpu ("), "{name}");
    // lavapipe has both; the backend uses them unless told not to
    if a.get_info().device_type == wgpu::DeviceType::Cpu {
        assert!(be.caps().subgroups && be.caps().f16, "{:?}", be.caps());
    }
    let off = lingot_wgpu::WgpuBackend::new(&a, &w, common::portable(8)).expect("open");
    assert!(!off.caps().subgroups && !off.caps().f16);
}
