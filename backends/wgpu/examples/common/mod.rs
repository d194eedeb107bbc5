//! What the raw-wgpu examples share: the adapter lingot would pick, opened with its own limits,
//! and a two-buffer bind group.

/// The best adapter (exits with a message when there is none) and a device on it with the
/// adapter's limits and no optional features.
pub fn open() -> (wgpu::Adapter, wgpu::Device, wgpu::Queue) {
    let adapter = match lingot_wgpu::pick(false, None) {
        Ok(Some(a)) => a,
        other => {
            eprintln!("no adapter: {:?}", other.err());
            std::process::exit(1);
        }
    };
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: None,
        required_features: wgpu::Features::empty(),
        required_limits: adapter.limits(),
        ..Default::default()
    }))
    .unwrap_or_else(|e| panic!("device: {e}"));
    (adapter, device, queue)
}

/// A bind group of `src` (binding 0) and `dst` (binding 1) for `pipeline`'s group 0.
pub fn src_dst(
    device: &wgpu::Device,
    pipeline: &wgpu::ComputePipeline,
    src: &wgpu::Buffer,
    dst: &wgpu::Buffer,
) -> wgpu::BindGroup {
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[
            wgpu::BindGroupEntry {
                binding: 0,
                resource: src.as_entire_binding(),
            },
            wgpu::BindGroupEntry {
                binding: 1,
                resource: dst.as_entire_binding(),
            },
        ],
    })
}
