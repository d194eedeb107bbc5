//! Compiled kernels: one compute pipeline per kernel variant, made on first use and kept for the
//! backend's life; bind groups in the layout every kernel shares (binding 0: a uniform block of
//! parameters; then read-only storage buffers; then read-write ones); dispatch sizes.

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::Arc;

use crate::device::Gpu;
use crate::kernels::Kernel;
use crate::WgpuError;

/// Bytes of a kernel's parameter block; every `struct Params` in shaders/ fits in it.
pub const PARAM_BYTES: u64 = 64;
/// 32-bit words of a parameter block.
pub const PARAM_WORDS: usize = (PARAM_BYTES / 4) as usize;
/// Workgroups per dispatch dimension that every device allows.
pub const MAX_GROUPS_PER_DIM: usize = 65535;

pub struct Pipeline {
    pub label: String,
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

#[derive(Default)]
pub struct Pipelines {
    map: HashMap<Kernel, Arc<Pipeline>>,
}

impl Pipelines {
    /// The pipeline of `kernel` on this device, compiled on first use.
    pub fn get(&mut self, gpu: &Gpu, kernel: Kernel) -> Result<Arc<Pipeline>, WgpuError> {
        if let Some(p) = self.map.get(&kernel) {
            return Ok(p.clone());
        }
        let p = Arc::new(compile(gpu, kernel)?);
        self.map.insert(kernel, p.clone());
        Ok(p)
    }
}

fn layout_entries(kernel: Kernel) -> Vec<wgpu::BindGroupLayoutEntry> {
    let (ro, rw) = kernel.bindings();
    let entry = |binding: u32, ty: wgpu::BindingType| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty,
        count: None,
    };
    let mut v = vec![entry(
        0,
        wgpu::BindingType::Buffer {
            ty: wgpu::BufferBindingType::Uniform,
            has_dynamic_offset: false,
            min_binding_size: NonZeroU64::new(PARAM_BYTES),
        },
    )];
    for i in 0..ro + rw {
        let ty = wgpu::BufferBindingType::Storage { read_only: i < ro };
        v.push(entry(
            1 + i,
            wgpu::BindingType::Buffer {
                ty,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
        ));
    }
    v
}

/// wgpu's runtime checks, all on but forced loop bounding (see [`compile`]).
fn runtime_checks() -> wgpu::ShaderRuntimeChecks {
    let mut checks = wgpu::ShaderRuntimeChecks::checked();
    checks.force_loop_bounding = false;
    checks
}

fn compile(gpu: &Gpu, kernel: Kernel) -> Result<Pipeline, WgpuError> {
    let label = kernel.label(gpu.caps);
    let wgsl = kernel.wgsl(gpu.caps).map_err(|msg| WgpuError::Shader {
        label: label.clone(),
        msg,
    })?;
    let scope = gpu.device.push_error_scope(wgpu::ErrorFilter::Validation);
    let desc = wgpu::ShaderModuleDescriptor {
        label: Some(&label),
        source: wgpu::ShaderSource::Wgsl(wgsl.into()),
    };
    // SAFETY: `force_loop_bounding` off is the one runtime check dropped; the caller must ensure
    // that no shader loops forever. The loops in shaders/ count up by a positive constant step to
    // a bound from the parameter block, a constant or `num_workgroups` (element counts of bound
    // buffers, below 2^31, so a counter cannot wrap), halve down to zero (the reductions), or count
    // an i32 down from 3 (binary.wgsl). Attention's key loops end at `kv - T + t + 1`, which the
    // plan's `KvCheck` keeps from wrapping (a run with fewer keys than queries is refused before it
    // is recorded). Bounds checks on every buffer access stay on. Naga's loop counters otherwise
    // keep drivers from unrolling the kernels' inner loops: on an H100 they cost a quarter of
    // decode speed and two thirds of the output mat-vec's bandwidth (BENCHMARKS.md, "naga's loop
    // bounding").
    let module = unsafe { gpu.device.create_shader_module_trusted(desc, runtime_checks()) };
    let layout = gpu.device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(&label),
        entries: &layout_entries(kernel),
    });
    let pl = gpu.device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(&label),
        bind_group_layouts: &[Some(&layout)],
        immediate_size: 0,
    });
    let pipeline = gpu.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(&label),
        layout: Some(&pl),
        module: &module,
        entry_point: Some("main"),
        compilation_options: wgpu::PipelineCompilationOptions {
            zero_initialize_workgroup_memory: kernel.zero_workgroup_memory(),
            ..Default::default()
        },
        cache: None,
    });
    if let Some(e) = pollster::block_on(scope.pop()) {
        return Err(WgpuError::Shader {
            label,
            msg: e.to_string(),
        });
    }
    Ok(Pipeline {
        label,
        pipeline,
        layout,
    })
}

/// A bind group for `pipe`: the parameter block at `params_offset` of `params`, then `storage`
/// (read-only bindings first, as the kernel declares them).
pub fn bind_group(
    gpu: &Gpu,
    pipe: &Pipeline,
    params: &wgpu::Buffer,
    params_offset: u64,
    storage: &[wgpu::Buffer],
) -> wgpu::BindGroup {
    let mut entries = vec![wgpu::BindGroupEntry {
        binding: 0,
        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
            buffer: params,
            offset: params_offset,
            size: NonZeroU64::new(PARAM_BYTES),
        }),
    }];
    for (i, b) in storage.iter().enumerate() {
        entries.push(wgpu::BindGroupEntry {
            binding: 1 + i as u32,
            resource: b.as_entire_binding(),
        });
    }
    gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(&pipe.label),
        layout: &pipe.layout,
        entries: &entries,
    })
}

/// Workgroups for `n` items of one workgroup each, folded into two dimensions when `n` exceeds
/// one (kernels compute `wg.x + wg.y * num_workgroups.x` and skip ids past the end).
pub fn grid(n: usize) -> [u32; 3] {
    if n == 0 {
        return [0, 0, 0];
    }
    let x = n.min(MAX_GROUPS_PER_DIM);
    [x as u32, n.div_ceil(x) as u32, 1]
}

/// Workgroups for `n` invocations of one item each, `wg` invocations per workgroup.
pub fn grid_items(n: usize, wg: u32) -> [u32; 3] {
    grid(n.div_ceil(wg as usize))
}

/// A parameter block being filled, in the field order of the kernel's `struct Params` (built for
/// every launch of every run: no allocation).
#[derive(Debug, Clone, Copy, Default)]
pub struct Params {
    words: [u32; PARAM_WORDS],
    len: usize,
}

impl Params {
    pub fn new() -> Params {
        Params::default()
    }

    /// A `u32` field. Sizes reaching here were checked against the binding limits at planning.
    pub fn u(mut self, v: usize) -> Params {
        assert!(
            self.len < PARAM_WORDS,
            "a parameter block holds at most {PARAM_WORDS} fields"
        );
        self.words[self.len] = v as u32;
        self.len += 1;
        self
    }

    pub fn f(self, v: f32) -> Params {
        self.u(v.to_bits() as usize)
    }

    pub fn flag(self, v: bool) -> Params {
        self.u(v as usize)
    }

    /// The block as bytes, zero-padded to [`PARAM_BYTES`].
    pub fn bytes(&self) -> [u8; PARAM_BYTES as usize] {
        bytemuck::cast(self.words)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_folds_large_counts() {
        assert_eq!(grid(0), [0, 0, 0]);
        assert_eq!(grid(10), [10, 1, 1]);
        assert_eq!(grid(65536), [65535, 2, 1]);
        assert_eq!(grid_items(129, 64), [3, 1, 1]);
    }
}
