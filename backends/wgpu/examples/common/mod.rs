//! What the raw-wgpu examples share: the adapter lingot would pick, opened with its own limits.

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
