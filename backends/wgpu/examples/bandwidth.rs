//! The device's read bandwidth through wgpu, as a baseline for the kernel profiles: a kernel
//! that reads a 1 GiB buffer once with vec4 loads (many in flight per invocation) and writes one
//! word per workgroup. Each pass times `REPS` dispatches in one submit; the best of five passes
//! is printed, with the bytes read per second.
//!
//! `cargo run --release -p lingot-wgpu --example bandwidth [MiB]`

use std::time::Instant;

mod common;

const SHADER: &str = r#"
@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3<u32>) {
    let n = arrayLength(&src);
    let stride = nwg.x * 256u;
    var a = vec4<f32>(0.0);
    var b = vec4<f32>(0.0);
    var i = gid.x;
    for (; i + 3u * stride < n; i = i + 4u * stride) {
        let x0 = src[i];
        let x1 = src[i + stride];
        let x2 = src[i + 2u * stride];
        let x3 = src[i + 3u * stride];
        a = a + x0 + x1;
        b = b + x2 + x3;
    }
    for (; i < n; i = i + stride) {
        a = a + src[i];
    }
    let s = dot(a + b, vec4<f32>(1.0));
    if (s == 12345.678) {
        dst[wg.x * 256u + li] = s;
    }
}
"#;

const REPS: u32 = 20;

fn main() {
    let mib: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1024);
    let (adapter, device, queue) = common::open();
    let info = adapter.get_info();
    let limits = adapter.limits();
    let bytes = (mib << 20).min(limits.max_storage_buffer_binding_size);
    let src = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("src"),
        size: bytes,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    // non-zero data: fill with a pattern in 64 MiB writes
    let chunk: Vec<u8> = (0..(64u64 << 20).min(bytes)).map(|i| (i % 251) as u8 | 1).collect();
    let mut off = 0;
    while off < bytes {
        let n = (bytes - off).min(chunk.len() as u64);
        queue.write_buffer(&src, off, &chunk[..n as usize]);
        off += n;
    }
    let groups = 132 * 16;
    let dst = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("dst"),
        size: 4 * 256 * groups as u64,
        usage: wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    });
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("read"),
        source: wgpu::ShaderSource::Wgsl(SHADER.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("read"),
        layout: None,
        module: &module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    });
    let bg = common::src_dst(&device, &pipeline, &src, &dst);
    let run = |reps: u32| {
        let mut enc = device.create_command_encoder(&Default::default());
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bg, &[]);
            for _ in 0..reps {
                pass.dispatch_workgroups(groups, 1, 1);
            }
        }
        let start = Instant::now();
        queue.submit([enc.finish()]);
        let _ = device.poll(wgpu::PollType::wait_indefinitely());
        start.elapsed().as_secs_f64()
    };
    run(2);
    let best = (0..5).map(|_| run(REPS)).fold(f64::MAX, f64::min);
    let gbs = (bytes as f64 * REPS as f64) / best / 1e9;
    println!(
        "{} ({:?}): read {} MiB x {REPS} in {:.3} ms: {gbs:.0} GB/s",
        info.name,
        info.backend,
        bytes >> 20,
        best * 1e3
    );
}
