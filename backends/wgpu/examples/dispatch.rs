//! The fixed cost of a launch, as decode pays it: `N` dispatches of a one-workgroup kernel in
//! one compute pass and one submit, (a) each reading the buffer the previous one wrote (so wgpu
//! puts a barrier between every two), (b) each writing its own buffer (no barriers). Prints the
//! host time to record and submit, and the wall time to completion, per dispatch; best of five.
//!
//! `cargo run --release -p lingot-wgpu --example dispatch [N]`

use std::time::Instant;

mod common;

const SHADER: &str = r#"
@group(0) @binding(0) var<storage, read> src: array<f32>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) li: u32) {
    dst[li] = src[li] + 1.0;
}
"#;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(256);
    let (adapter, device, queue) = common::open();
    let info = adapter.get_info();
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: None,
        source: wgpu::ShaderSource::Wgsl(SHADER.into()),
    });
    let pipe = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: None,
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let buffers: Vec<wgpu::Buffer> = (0..=n)
        .map(|_| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: None,
                size: 256,
                usage: wgpu::BufferUsages::STORAGE,
                mapped_at_creation: false,
            })
        })
        .collect();
    let group = |src: &wgpu::Buffer, dst: &wgpu::Buffer| common::src_dst(&device, &pipe, src, dst);
    // (a) a chain: dispatch i reads buffer i and writes buffer i + 1
    let chain: Vec<wgpu::BindGroup> = (0..n).map(|i| group(&buffers[i], &buffers[i + 1])).collect();
    // (b) independent: every dispatch reads buffer 0 and writes its own
    let independent: Vec<wgpu::BindGroup> = (0..n).map(|i| group(&buffers[0], &buffers[i + 1])).collect();
    println!("{} ({:?}), {n} dispatches per submit", info.name, info.backend);
    for spin in [false, true] {
        for (what, groups) in [("dependent chain", &chain), ("independent", &independent)] {
            let mut best = (f64::MAX, f64::MAX);
            for _ in 0..5 {
                let start = Instant::now();
                let mut enc = device.create_command_encoder(&Default::default());
                {
                    let mut pass = enc.begin_compute_pass(&Default::default());
                    pass.set_pipeline(&pipe);
                    for g in groups.iter() {
                        pass.set_bind_group(0, g, &[]);
                        pass.dispatch_workgroups(1, 1, 1);
                    }
                }
                queue.submit([enc.finish()]);
                let recorded = start.elapsed().as_secs_f64();
                if spin {
                    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
                    let flag = done.clone();
                    queue.on_submitted_work_done(move || flag.store(true, std::sync::atomic::Ordering::Release));
                    while !done.load(std::sync::atomic::Ordering::Acquire) {
                        device
                            .poll(wgpu::PollType::Poll)
                            .unwrap_or_else(|e| panic!("poll: {e}"));
                    }
                } else {
                    device
                        .poll(wgpu::PollType::wait_indefinitely())
                        .unwrap_or_else(|e| panic!("poll: {e}"));
                }
                let total = start.elapsed().as_secs_f64();
                best = (best.0.min(recorded), best.1.min(total));
            }
            let us = |s: f64| s * 1e6 / n as f64;
            let how = if spin { "polling" } else { "waiting" };
            println!(
                "{what:>16}, {how}: record + submit {:.2} us, to completion {:.2} us per dispatch",
                us(best.0),
                us(best.1)
            );
        }
    }
}
