//! Adapters and the opened device.
//!
//! [`list_adapters`] is what `lingot devices` prints; [`pick`] implements `--device N` and
//! `--backend auto|wgpu`: a real GPU is preferred (discrete, then integrated, then virtual); a
//! software adapter (lavapipe, WARP) is used only when wgpu is asked for explicitly. [`Gpu`] is an
//! opened device with the adapter's real limits, shader-f16 and subgroups when present (and
//! wanted), and error capture: wgpu errors and device loss become [`WgpuError`] values instead of
//! panics.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use wgpu::{Adapter, DeviceType};

use crate::kernels::Caps;
use crate::WgpuError;

/// One adapter as `lingot devices` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterInfoRow {
    /// The N of `--device N`.
    pub index: usize,
    pub name: String,
    /// Vulkan, Metal, Dx12, ...
    pub backend: String,
    /// DiscreteGpu, IntegratedGpu, VirtualGpu, Cpu, Other.
    pub device_type: String,
    pub driver: String,
    pub driver_info: String,
    /// A software rasterizer (lavapipe, WARP): never picked by `--backend auto`.
    pub software: bool,
    pub max_storage_binding_bytes: u64,
    pub max_buffer_bytes: u64,
    pub max_workgroup_storage_bytes: u32,
    pub max_invocations_per_workgroup: u32,
    pub shader_f16: bool,
    pub subgroups: bool,
    /// Smallest and largest subgroup size the adapter reports.
    pub subgroup_sizes: (u32, u32),
    /// Cooperative matrices as lingot's tiled products use them (see [`coop_capable`]).
    pub coop: bool,
}

impl fmt::Display for AdapterInfoRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
        write!(
            f,
            "[{}] {} ({}, {}{}) driver {} {}; binding {:.2} GiB, buffer {:.2} GiB, shared {} KiB, {} invocations; f16 {}, subgroups {}, cooperative matrices {}",
            self.index,
            self.name,
            self.backend,
            self.device_type,
            if self.software { ", software" } else { "" },
            self.driver,
            self.driver_info,
            gib(self.max_storage_binding_bytes),
            gib(self.max_buffer_bytes),
            self.max_workgroup_storage_bytes / 1024,
            self.max_invocations_per_workgroup,
            if self.shader_f16 { "yes" } else { "no" },
            if self.subgroups {
                format!("{}..{}", self.subgroup_sizes.0, self.subgroup_sizes.1)
            } else {
                "no".into()
            },
            if self.coop { "16x16 f16" } else { "no" },
        )
    }
}

/// Whether `adapter` can run tile_coop.wgsl: wgpu's cooperative-matrix feature with the
/// 16 x 16 x 16 f16 x f16 + f32 configuration, shader-f16, subgroups of exactly 32 (eight per
/// workgroup of 256), and room for its workgroup arrays.
pub fn coop_capable(adapter: &Adapter) -> bool {
    let has = adapter.features();
    let info = adapter.get_info();
    let needed =
        wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX | wgpu::Features::SHADER_F16 | wgpu::Features::SUBGROUP;
    has.contains(needed)
        && (info.subgroup_min_size, info.subgroup_max_size) == (32, 32)
        && adapter.limits().max_compute_workgroup_storage_size >= crate::kernels::MAT_MUL_COOP_SHARED
        && adapter.cooperative_matrix_properties().iter().any(|p| {
            use wgpu::wgt::CooperativeScalarType::{F16, F32};
            (p.m_size, p.n_size, p.k_size) == (16, 16, 16) && p.ab_type == F16 && p.cr_type == F32
        })
}

/// The process's one wgpu instance: creating one per enumeration leaks driver instances, and
/// after a dozen backends NVIDIA's Vulkan driver stopped reporting the GPU.
fn instance() -> &'static wgpu::Instance {
    static INSTANCE: std::sync::OnceLock<wgpu::Instance> = std::sync::OnceLock::new();
    INSTANCE.get_or_init(new_instance)
}

fn new_instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    // GL adapters lack what compute needs here (subgroups, large bindings); WGPU_BACKEND overrides.
    desc.backends = wgpu::Backends::PRIMARY.with_env();
    // Let wgpu refuse allocations beyond the memory budget (where the driver reports one)
    // instead of the device being lost.
    desc.memory_budget_thresholds.for_resource_creation = Some(95);
    wgpu::Instance::new(desc)
}

/// Every adapter wgpu sees, in a stable order (the order of `--device N`).
pub fn adapters() -> Vec<Adapter> {
    pollster::block_on(instance().enumerate_adapters(wgpu::Backends::all()))
}

fn is_software(info: &wgpu::AdapterInfo) -> bool {
    info.device_type == DeviceType::Cpu
}

/// Preference among real GPUs (lower first); `None` for adapters `--backend auto` never takes.
fn auto_rank(t: DeviceType) -> Option<u8> {
    match t {
        DeviceType::DiscreteGpu => Some(0),
        DeviceType::IntegratedGpu => Some(1),
        DeviceType::VirtualGpu => Some(2),
        DeviceType::Cpu | DeviceType::Other => None,
    }
}

fn row(index: usize, a: &Adapter) -> AdapterInfoRow {
    let info = a.get_info();
    let limits = a.limits();
    let features = a.features();
    AdapterInfoRow {
        index,
        software: is_software(&info),
        name: info.name,
        backend: format!("{:?}", info.backend),
        device_type: format!("{:?}", info.device_type),
        driver: info.driver,
        driver_info: info.driver_info,
        max_storage_binding_bytes: limits.max_storage_buffer_binding_size,
        max_buffer_bytes: limits.max_buffer_size,
        max_workgroup_storage_bytes: limits.max_compute_workgroup_storage_size,
        max_invocations_per_workgroup: limits.max_compute_invocations_per_workgroup,
        shader_f16: features.contains(wgpu::Features::SHADER_F16),
        subgroups: features.contains(wgpu::Features::SUBGROUP),
        subgroup_sizes: (info.subgroup_min_size, info.subgroup_max_size),
        coop: coop_capable(a),
    }
}

/// The adapters for `lingot devices`.
pub fn list_adapters() -> Vec<AdapterInfoRow> {
    adapters().iter().enumerate().map(|(i, a)| row(i, a)).collect()
}

/// The adapter to run on. `index`: adapter N of [`list_adapters`] (an error if there is none).
/// Otherwise the best real GPU; failing that, with `auto` nothing (`Ok(None)`: run on the CPU),
/// without it (wgpu asked for explicitly) a software adapter such as lavapipe, or
/// [`WgpuError::NoAdapter`].
pub fn pick(auto: bool, index: Option<usize>) -> Result<Option<Adapter>, WgpuError> {
    let all = adapters();
    let types: Vec<DeviceType> = all.iter().map(|a| a.get_info().device_type).collect();
    Ok(choose(&types, auto, index)?.map(|i| all[i].clone()))
}

/// [`pick`] over the adapters' device types: the index to use.
fn choose(types: &[DeviceType], auto: bool, index: Option<usize>) -> Result<Option<usize>, WgpuError> {
    if let Some(i) = index {
        return match i < types.len() {
            true => Ok(Some(i)),
            false => Err(WgpuError::NoSuchAdapter {
                index: i,
                count: types.len(),
            }),
        };
    }
    let best = types
        .iter()
        .enumerate()
        .filter_map(|(i, t)| auto_rank(*t).map(|r| (r, i)))
        .min();
    if let Some((_, i)) = best {
        return Ok(Some(i));
    }
    if auto {
        return Ok(None);
    }
    let soft = types.iter().position(|t| *t == DeviceType::Cpu);
    match soft.or(if types.is_empty() { None } else { Some(0) }) {
        Some(i) => Ok(Some(i)),
        None => Err(WgpuError::NoAdapter),
    }
}

/// Which optional features to use when the adapter has them (all on by default; tests turn
/// them off to check the portable paths).
#[derive(Debug, Clone, Copy)]
pub struct Features {
    pub subgroups: bool,
    pub shader_f16: bool,
    /// Cooperative matrices for the tiled products (needs the other two as well).
    pub coop_matrix: bool,
}

/// An opened device and what it allows.
pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub caps: Caps,
    /// The device has timestamp queries (kernel profiling).
    pub timestamps: bool,
    /// Workgroups may hand results to the last of them through storage (see
    /// [`crate::AttentionMerge`]): split decode attention merges its partials in the attention
    /// kernel, and moe_route's last workgroup chooses the experts from the router logits.
    pub merge_in_kernel: bool,
    /// Errors wgpu raised outside an error scope, oldest first.
    errors: Arc<Mutex<Vec<String>>>,
    lost: Arc<Mutex<Option<String>>>,
    /// Bytes of the buffers created through [`Gpu::buffer`].
    held: AtomicU64,
}

impl Gpu {
    /// Opens `adapter` with its own limits (not wgpu's conservative defaults) and the features
    /// `want` asks for where present.
    pub fn open(adapter: &Adapter, want: Features) -> Result<Gpu, WgpuError> {
        let info = adapter.get_info();
        let has = adapter.features();
        let mut features = wgpu::Features::empty();
        let subgroups = want.subgroups && has.contains(wgpu::Features::SUBGROUP);
        let f16 = want.shader_f16 && has.contains(wgpu::Features::SHADER_F16);
        let caps = Caps {
            subgroups,
            f16,
            coop: want.coop_matrix && subgroups && f16 && coop_capable(adapter),
        };
        if caps.subgroups {
            features |= wgpu::Features::SUBGROUP;
        }
        if caps.f16 {
            features |= wgpu::Features::SHADER_F16;
        }
        if caps.coop {
            features |= wgpu::Features::EXPERIMENTAL_COOPERATIVE_MATRIX;
        }
        // for `--profile`: one compute pass per launch with timestamps at its ends
        let timestamps = has.contains(wgpu::Features::TIMESTAMP_QUERY);
        if timestamps {
            features |= wgpu::Features::TIMESTAMP_QUERY;
        }
        let limits = adapter.limits();
        let desc = wgpu::DeviceDescriptor {
            label: Some("lingot"),
            required_features: features,
            required_limits: limits.clone(),
            // SAFETY: wgpu asks for this token before it enables a feature named EXPERIMENTAL_
            // (here only the cooperative matrices, and only when `caps.coop`): such features may
            // have bugs in wgpu. lingot uses them in two shaders (tile_coop.wgsl,
            // attention_coop.wgsl), loading and storing only whole 16 x 16 tiles inside their
            // workgroup arrays, and their results are checked against the CPU backend and the
            // reference on such a device (ops_matrix, split, kv_cache, tests/reference.rs, with
            // LINGOT_REQUIRE_COOP=1).
            experimental_features: match caps.coop {
                true => unsafe { wgpu::ExperimentalFeatures::enabled() },
                false => wgpu::ExperimentalFeatures::disabled(),
            },
            ..Default::default()
        };
        let (device, queue) =
            pollster::block_on(adapter.request_device(&desc)).map_err(|e| WgpuError::RequestDevice {
                adapter: info.name.clone(),
                msg: e.to_string(),
            })?;
        let errors = Arc::new(Mutex::new(Vec::new()));
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut v) = sink.lock() {
                v.push(e.to_string());
            }
        }));
        let lost = Arc::new(Mutex::new(None));
        let lost_sink = lost.clone();
        device.set_device_lost_callback(move |reason, msg| {
            if let Ok(mut l) = lost_sink.lock() {
                *l = Some(format!("{reason:?}: {msg}"));
            }
        });
        let limits = device.limits();
        let merge_in_kernel = info.backend == wgpu::Backend::Vulkan;
        Ok(Gpu {
            device,
            queue,
            info,
            limits,
            caps,
            timestamps,
            merge_in_kernel,
            errors,
            lost,
            held: AtomicU64::new(0),
        })
    }

    /// `NVIDIA H100 (Vulkan)`.
    pub fn name(&self) -> String {
        format!("{} ({:?})", self.info.name, self.info.backend)
    }

    /// The largest storage binding, which is also the largest buffer we create.
    pub fn max_binding(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }

    /// Creates a buffer, turning size limits and out-of-memory into errors that say how much was
    /// asked, how much lingot holds already and what the allocator reports.
    pub fn buffer(&self, what: &str, size: u64, usage: wgpu::BufferUsages) -> Result<wgpu::Buffer, WgpuError> {
        let size = size.max(16).next_multiple_of(16);
        if size > self.limits.max_buffer_size {
            return Err(WgpuError::TooLarge {
                adapter: self.name(),
                what: what.into(),
                bytes: size,
                limit_name: "buffer",
                limit: self.limits.max_buffer_size,
            });
        }
        let oom = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(what),
            size,
            usage,
            mapped_at_creation: false,
        });
        if pollster::block_on(oom.pop()).is_some() {
            let reported = match self.device.generate_allocator_report() {
                Some(r) => format!("; wgpu's allocator has {} bytes reserved", r.total_reserved_bytes),
                None => "; the device does not report its free memory".into(),
            };
            return Err(WgpuError::OutOfMemory {
                adapter: self.name(),
                what: what.into(),
                bytes: size,
                held: self.held.load(Ordering::Relaxed),
                reported,
            });
        }
        self.held.fetch_add(size, Ordering::Relaxed);
        Ok(buffer)
    }

    /// Bytes held in buffers made by [`Gpu::buffer`].
    pub fn held_bytes(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    /// Records that a buffer was released (its bytes no longer count).
    pub fn released(&self, bytes: u64) {
        self.held.fetch_sub(bytes.min(self.held_bytes()), Ordering::Relaxed);
    }

    /// Fails if the device was lost or wgpu reported an error since the last check.
    pub fn check(&self) -> Result<(), WgpuError> {
        if let Some(reason) = self.lost.lock().ok().and_then(|l| l.clone()) {
            return Err(WgpuError::DeviceLost {
                adapter: self.name(),
                reason,
            });
        }
        let mut errs = match self.errors.lock() {
            Ok(e) => e,
            Err(p) => p.into_inner(),
        };
        if errs.is_empty() {
            return Ok(());
        }
        let msg = errs.join("; ");
        errs.clear();
        Err(WgpuError::Wgpu {
            adapter: self.name(),
            msg,
        })
    }

    /// Waits for submitted work; a failed wait is a lost device.
    pub fn wait(&self) -> Result<(), WgpuError> {
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| WgpuError::DeviceLost {
                adapter: self.name(),
                reason: e.to_string(),
            })?;
        self.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DeviceType::*;

    #[test]
    fn choice_prefers_discrete_and_keeps_software_for_explicit_requests() {
        assert_eq!(choose(&[Cpu, IntegratedGpu, DiscreteGpu], true, None).unwrap(), Some(2));
        assert_eq!(choose(&[Cpu, IntegratedGpu], true, None).unwrap(), Some(1));
        assert_eq!(choose(&[Cpu, Other], true, None).unwrap(), None);
        assert_eq!(choose(&[Other, Cpu], false, None).unwrap(), Some(1));
        assert_eq!(choose(&[Cpu], false, Some(0)).unwrap(), Some(0));
        assert!(matches!(choose(&[], false, None), Err(WgpuError::NoAdapter)));
        assert_eq!(choose(&[], true, None).unwrap(), None);
        assert!(matches!(
            choose(&[Cpu], true, Some(1)),
            Err(WgpuError::NoSuchAdapter { index: 1, count: 1 })
        ));
    }
}
