//! [`WgpuBackend`]: the [`Backend`] the command line drives. A run finds (or makes) the plan of
//! its graph and batch-size bucket, checks the inputs, writes every launch's parameters and the
//! inputs into the plan's mapped upload buffer, records the launches in parts of growing length
//! (up to `launches_per_submit`), each submitted as soon as it is recorded (the last one also
//! copies the outputs to a staging buffer), and reads the outputs back: nothing returns to the
//! CPU in between.

use std::collections::{HashMap, VecDeque};

use lingot_ir::exec::{Backend, BackendError, HostTensor, Weights};
use lingot_ir::{Bindings, DType, Graph};

use crate::device::{Features, Gpu};
use crate::kernels::Caps;
use crate::kv::KvCaches;
use crate::pipelines::Pipelines;
use crate::plan::{count, staging_size, Plan, PlanInput, Planner};
use crate::profile::KernelTime;
use crate::timer::Timer;
use crate::weights::{write_padded, WeightStore};
use crate::WgpuError;

/// Where split decode attention merges its partials, and with it whether any kernel hands
/// results from its workgroups to the last of them (moe_route: router logits, then the expert
/// choice in one launch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AttentionMerge {
    /// In the attention kernel on Vulkan, in a launch of its own elsewhere.
    #[default]
    Auto,
    /// The last workgroup of each query head merges them (one launch; and moe_route is used).
    /// It relies on storage barriers with device scope, which naga emits in SPIR-V; WGSL
    /// promises workgroup scope.
    InKernel,
    /// An `attention_merge` launch after the attention kernel, and the router logits a launch of
    /// their own before moe_router's (correct on every backend).
    Launch,
}

/// How to open the backend.
#[derive(Debug, Clone)]
pub struct WgpuOptions {
    /// Positions each KV cache holds.
    pub context: usize,
    /// Use subgroup operations when the adapter has them.
    pub subgroups: bool,
    /// Use shader-f16 when the adapter has it.
    pub shader_f16: bool,
    /// Run prefill's tiled products and attention on cooperative matrices when the adapter has
    /// them (see shaders/tile_coop.wgsl, attention_coop.wgsl); `LINGOT_WGPU_COOP=0` in the
    /// environment turns them off when the backend opens.
    pub coop_matrix: bool,
    /// Split weights into chunks of at most this many bytes even when the device allows larger
    /// bindings (tests use it to exercise splitting).
    pub max_weight_chunk: Option<u64>,
    /// The most launches recorded into one command buffer before it is submitted (0: the whole
    /// run in one). A run submits 8 launches first, so the GPU starts early, then parts twice as
    /// long as the last up to this; each submit costs the host ~3 us a launch (wgpu's tracking),
    /// and the GPU a pause. Default 128 (tg128 on an H100: 32 gave 321-339 t/s, 128 gave 351-356,
    /// BENCHMARKS.md); `LINGOT_WGPU_SUBMIT=N` in the environment overrides it.
    pub launches_per_submit: usize,
    /// See [`AttentionMerge`].
    pub attention_merge: AttentionMerge,
}

impl Default for WgpuOptions {
    fn default() -> WgpuOptions {
        WgpuOptions {
            context: 4096,
            subgroups: true,
            shader_f16: true,
            coop_matrix: true,
            max_weight_chunk: None,
            launches_per_submit: 128,
            attention_merge: AttentionMerge::Auto,
        }
    }
}

/// `var` from the environment through `parse` (trimmed), or `default` when it is not set; a value
/// `parse` refuses is an error that says what `want`s.
fn env_or<T>(
    var: &'static str,
    default: T,
    want: &'static str,
    parse: impl Fn(&str) -> Option<T>,
) -> Result<T, WgpuError> {
    match std::env::var(var) {
        Ok(v) => parse(v.trim()).ok_or(WgpuError::BadEnv { var, value: v, want }),
        Err(_) => Ok(default),
    }
}

/// Plans kept at once (decode, prefill buckets, ...); the oldest goes first.
const MAX_PLANS: usize = 6;

pub struct WgpuBackend<'w> {
    gpu: Gpu,
    pipes: Pipelines,
    weights: WeightStore<'w>,
    caches: KvCaches,
    plans: HashMap<(u64, usize), Plan>,
    plan_order: VecDeque<(u64, usize)>,
    launches_per_submit: usize,
    /// `LINGOT_WGPU_TRACE=1`: one line a run on stderr: CPU time to record, to read back, and the
    /// GPU's span from the first launch's start to the last one's end.
    trace: bool,
    /// See [`READBACK_SPIN_US`].
    spin_us: u64,
}

/// How long a run polls for its results before it blocks on them: a blocked thread wakes up tens
/// of microseconds late (a one-dispatch submit: 52 us to completion blocking, 26 us polling; tg128
/// on an H100 346-350 -> 356-365 t/s). Past it (long prefills) the thread sleeps.
/// `LINGOT_WGPU_SPIN_US=N` in the environment overrides it.
const READBACK_SPIN_US: u64 = 3000;

/// The ranges of launches submitted together: the first part small, so the GPU starts early,
/// each next one twice as long, up to `most` (fewer submits, each of which costs the GPU a pause);
/// `most` 0: all in one.
fn submit_parts(n: usize, most: usize) -> Vec<std::ops::Range<usize>> {
    let (most, first) = match most {
        0 => (n.max(1), n.max(1)),
        m => (m, FIRST_SUBMIT.min(m)),
    };
    let mut parts = vec![];
    let (mut at, mut len) = (0, first);
    while at < n {
        parts.push(at..(at + len).min(n));
        at += len;
        len = (2 * len).min(most);
    }
    parts
}

/// Launches in the first submit of a run.
const FIRST_SUBMIT: usize = 8;

/// A graph's structural hash: plans are reused for an equal graph.
fn graph_key(g: &Graph) -> u64 {
    use std::hash::BuildHasher;
    foldhash::quality::FixedState::default().hash_one(g)
}

impl<'w> WgpuBackend<'w> {
    /// Opens `adapter` (see [`crate::pick`]) for graphs over `weights`.
    pub fn new(
        adapter: &wgpu::Adapter,
        weights: &'w dyn Weights,
        options: WgpuOptions,
    ) -> Result<WgpuBackend<'w>, WgpuError> {
        let mut gpu = Gpu::open(
            adapter,
            Features {
                subgroups: options.subgroups,
                shader_f16: options.shader_f16,
                coop_matrix: env_or(
                    "LINGOT_WGPU_COOP",
                    options.coop_matrix,
                    "1 or 0 (cooperative matrices for prefill, or not)",
                    |v| match v {
                        "1" => Some(true),
                        "0" => Some(false),
                        _ => None,
                    },
                )?,
            },
        )?;
        match options.attention_merge {
            AttentionMerge::Auto => {}
            AttentionMerge::InKernel => gpu.merge_in_kernel = true,
            AttentionMerge::Launch => gpu.merge_in_kernel = false,
        }
        let limit = options
            .max_weight_chunk
            .map_or(gpu.max_binding(), |m| m.min(gpu.max_binding()));
        Ok(WgpuBackend {
            weights: WeightStore::new(weights, limit),
            caches: KvCaches::new(options.context),
            pipes: Pipelines::default(),
            plans: HashMap::new(),
            plan_order: VecDeque::new(),
            launches_per_submit: env_or(
                "LINGOT_WGPU_SUBMIT",
                options.launches_per_submit,
                "a whole number of launches per submit (0: one submit per run)",
                |v| v.parse().ok(),
            )?,
            trace: std::env::var("LINGOT_WGPU_TRACE").is_ok_and(|v| v == "1"),
            spin_us: env_or(
                "LINGOT_WGPU_SPIN_US",
                READBACK_SPIN_US,
                "microseconds (0: block at once)",
                |v| v.parse().ok(),
            )?,
            gpu,
        })
    }

    /// The optional features in use.
    pub fn caps(&self) -> Caps {
        self.gpu.caps
    }

    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.gpu.info
    }

    /// Dequantizes `rows` rows of `k` elements stored as `dtype` with the GPU's dequant kernel
    /// (the one that also turns weights into f32 for elementwise ops). For tests and diagnostics.
    pub fn dequantize(&mut self, dtype: DType, bytes: &[u8], rows: usize, k: usize) -> Result<Vec<f32>, WgpuError> {
        let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST;
        let src = self.gpu.buffer("dequant input", bytes.len() as u64, usage)?;
        write_padded(&self.gpu, &src, bytes);
        let out = crate::weights::dequantize(&self.gpu, &mut self.pipes, dtype, &src, &[rows, k], "dequant test")?;
        let n = 4 * (rows * k) as u64;
        let staging = self.gpu.buffer(
            "dequant readback",
            n,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        )?;
        let mut enc = self.gpu.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(&out, 0, &staging, 0, n);
        self.gpu.queue.submit([enc.finish()]);
        let words = self.read(&staging, n)?;
        Ok(words.into_iter().map(f32::from_bits).collect())
    }

    /// How many buffers weight `name` (as stored, no view) is split over, once uploaded.
    pub fn weight_chunks(&self, name: &str) -> Option<usize> {
        self.weights.chunks_of(name)
    }

    /// Destroys the device, as a driver reset would: later runs fail with
    /// [`WgpuError::DeviceLost`]. For tests of that path.
    pub fn destroy_device(&self) {
        self.gpu.device.destroy();
    }

    /// Maps `staging`, waits, and returns its first `n` bytes as words.
    fn read(&self, staging: &wgpu::Buffer, n: u64) -> Result<Vec<u32>, WgpuError> {
        self.read_with(staging, n, bytemuck::pod_collect_to_vec)
    }

    /// `f` of the first `n` bytes of `staging` once the GPU has written them (mapped meanwhile,
    /// so that `f` copies them out once).
    fn read_with<R>(&self, staging: &wgpu::Buffer, n: u64, f: impl FnOnce(&[u8]) -> R) -> Result<R, WgpuError> {
        if n == 0 {
            return Ok(f(&[]));
        }
        let slice = staging.slice(0..n);
        let (tx, rx) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        let t = std::time::Instant::now();
        // poll without blocking for a while first: a blocked thread wakes up late
        let spin = std::time::Duration::from_micros(self.spin_us);
        let mut early = None;
        while t.elapsed() < spin {
            self.gpu
                .device
                .poll(wgpu::PollType::Poll)
                .map_err(|e| WgpuError::DeviceLost {
                    adapter: self.gpu.name(),
                    reason: e.to_string(),
                })?;
            if let Ok(r) = rx.try_recv() {
                early = Some(r);
                break;
            }
            std::hint::spin_loop();
        }
        if early.is_none() {
            self.gpu.wait()?;
        }
        self.gpu.check()?;
        let lost = |reason: String| WgpuError::DeviceLost {
            adapter: self.gpu.name(),
            reason,
        };
        match early.map_or_else(|| rx.recv(), Ok) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(lost(format!("reading results back: {e}"))),
            Err(_) => return Err(lost("the readback never completed".into())),
        }
        let out = {
            let view = slice
                .get_mapped_range()
                .map_err(|e| lost(format!("mapping results: {e}")))?;
            f(&view)
        };
        staging.unmap();
        Ok(out)
    }

    /// Runs like [`Backend::run`], timing each kernel launch on the GPU (one compute pass per
    /// launch, timestamps at its ends): slower than a plain run, for profiles only. Fails with
    /// [`WgpuError::NoTimestamps`] on adapters without timestamp queries.
    pub fn profile(
        &mut self,
        graph: &Graph,
        inputs: &[(&str, HostTensor)],
        b: Bindings,
    ) -> Result<(Vec<HostTensor>, Vec<KernelTime>), BackendError> {
        self.run_inner(graph, inputs, b, true)
    }

    /// The kernel launches one run of `graph` under `b` records, from its plan (made here if it
    /// is not yet): each step whose workgroup count is not zero under `b`, as a run dispatches.
    pub fn launches(&mut self, graph: &Graph, b: Bindings) -> Result<usize, BackendError> {
        let key = (graph_key(graph), b.t.max(1).next_power_of_two());
        self.plan(graph, key)?;
        let steps = &self.plans[&key].steps;
        Ok(steps.iter().filter(|s| (s.launch)(&b).1.iter().all(|n| *n > 0)).count())
    }

    /// Whether [`WgpuBackend::profile`] can run here.
    pub fn can_profile(&self) -> bool {
        self.gpu.timestamps
    }

    /// A run, with each launch timed in its own compute pass when `profile` is set.
    fn run_inner(
        &mut self,
        graph: &Graph,
        inputs: &[(&str, HostTensor)],
        b: Bindings,
        profile: bool,
    ) -> Result<(Vec<HostTensor>, Vec<KernelTime>), BackendError> {
        self.gpu.check()?;
        if profile && !self.gpu.timestamps {
            return Err(WgpuError::NoTimestamps {
                adapter: self.gpu.name(),
            }
            .into());
        }
        let t0 = std::time::Instant::now();
        let key = (graph_key(graph), b.t.max(1).next_power_of_two());
        let t_key = t0.elapsed();
        self.plan(graph, key)?;
        let plan = &self.plans[&key];
        let mut params = vec![0u8; plan.steps.len() * plan.stride as usize];
        let copies = self.prepare(plan, inputs, b, &mut params)?;
        let t_prep = t0.elapsed();

        let mut groups = Vec::with_capacity(plan.steps.len());
        for (i, s) in plan.steps.iter().enumerate() {
            let (p, g) = (s.launch)(&b);
            let o = i * plan.stride as usize;
            params[o..o + crate::pipelines::PARAM_BYTES as usize].copy_from_slice(&p.bytes());
            groups.push(g);
        }
        let params_len = (plan.steps.len() * plan.stride as usize) as u64;
        plan.upload.write(&self.gpu, &params)?;
        let t_written = t0.elapsed();
        let new_encoder = || {
            self.gpu
                .device
                .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("forward") })
        };
        let mut enc = new_encoder();
        if params_len > 0 {
            enc.copy_buffer_to_buffer(&plan.upload.buffer, 0, &plan.params, 0, params_len);
        }
        for (i, n) in &copies {
            enc.copy_buffer_to_buffer(&plan.upload.buffer, i.upload, &i.buffer, 0, *n);
        }
        let timer = if profile {
            Some(Timer::new(&self.gpu, plan.steps.len())?)
        } else {
            None
        };
        let mut t_first = std::time::Duration::ZERO;
        let mut t_first0 = std::time::Duration::ZERO;
        let span = if self.trace && !profile && self.gpu.timestamps {
            Some(Timer::new(&self.gpu, 1)?)
        } else {
            None
        };
        match &timer {
            None => {
                let steps: Vec<_> = plan
                    .steps
                    .iter()
                    .zip(&groups)
                    .filter(|(_, g)| g.iter().all(|n| *n > 0))
                    .collect();
                let parts = submit_parts(steps.len(), self.launches_per_submit);
                let n_parts = parts.len();
                let mut parts = parts.into_iter().map(|r| &steps[r]).enumerate().peekable();
                while let Some((k, part)) = parts.next() {
                    {
                        let span = span.as_ref().filter(|_| k == 0 || k + 1 == n_parts).map(|t| {
                            let w = t.writes(0);
                            wgpu::ComputePassTimestampWrites {
                                beginning_of_pass_write_index: w.beginning_of_pass_write_index.filter(|_| k == 0),
                                end_of_pass_write_index: w.end_of_pass_write_index.filter(|_| k + 1 == n_parts),
                                ..w
                            }
                        });
                        let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                            label: Some("forward"),
                            timestamp_writes: span,
                        });
                        for (s, [x, y, z]) in part {
                            pass.set_pipeline(&s.pipe.pipeline);
                            pass.set_bind_group(0, &s.bind_group, &[]);
                            pass.dispatch_workgroups(*x, *y, *z);
                        }
                    }
                    // every part but the last goes to the GPU now; the last carries the copies out
                    if parts.peek().is_some() {
                        let done = std::mem::replace(&mut enc, new_encoder());
                        if k == 0 {
                            t_first0 = t0.elapsed();
                        }
                        self.gpu.queue.submit([done.finish()]);
                        if k == 0 {
                            t_first = t0.elapsed();
                        }
                    }
                }
            }
            Some(timer) => {
                for (i, (s, [x, y, z])) in plan.steps.iter().zip(&groups).enumerate() {
                    if x * y * z == 0 {
                        continue;
                    }
                    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: Some(&s.pipe.label),
                        timestamp_writes: Some(timer.writes(i)),
                    });
                    pass.set_pipeline(&s.pipe.pipeline);
                    pass.set_bind_group(0, &s.bind_group, &[]);
                    pass.dispatch_workgroups(*x, *y, *z);
                }
                timer.resolve(&mut enc);
            }
        }
        let mut offset = 0;
        let mut spans = vec![];
        for o in &plan.outputs {
            let n = 4 * count(&o.ty.shape, &b) as u64;
            if n > 0 {
                enc.copy_buffer_to_buffer(&o.buffer, 0, &plan.staging, offset, n);
            }
            spans.push((offset as usize / 4, n as usize / 4));
            offset += staging_size(&o.ty, &plan.cap);
        }
        if let Some(t) = &span {
            t.resolve(&mut enc);
        }
        let t_recorded = t0.elapsed();
        self.gpu.queue.submit([enc.finish()]);
        let t_submitted = t0.elapsed();
        // the outputs straight from the mapped results (one copy each)
        let outs = self.read_with(&plan.staging, offset, |bytes| {
            plan.outputs
                .iter()
                .zip(&spans)
                .map(|(o, &(start, n))| {
                    let shape = o.ty.shape.bind(&b);
                    let w = &bytes[4 * start..4 * (start + n)];
                    match o.ty.dtype {
                        DType::I32 => Ok(HostTensor::I32 {
                            shape,
                            data: bytemuck::pod_collect_to_vec(w),
                        }),
                        DType::F32 => Ok(HostTensor::F32 {
                            shape,
                            data: bytemuck::pod_collect_to_vec(w),
                        }),
                        d => Err(BackendError::Node {
                            node: format!("output \"{}\"", o.name),
                            msg: format!("is {d}; outputs are f32 or i32"),
                        }),
                    }
                })
                .collect::<Result<Vec<_>, BackendError>>()
        })?;
        if let Some(t) = &span {
            let t_read = t0.elapsed();
            let ticks = self.read(&t.readback, t.bytes())?;
            let at = |q: usize| ticks[2 * q] as u64 | (ticks[2 * q + 1] as u64) << 32;
            let gpu = at(1).saturating_sub(at(0)) as f64 * self.gpu.queue.get_timestamp_period() as f64;
            let us = |d: std::time::Duration| d.as_secs_f64() * 1e6;
            eprintln!(
                "trace: t {} launches {}, host us from the run's start: key {:.1} prepared {:.1} written {:.1} first {:.1}..{:.1} recorded {:.1} submitted {:.1} read {:.1}; gpu span {:.1} us",
                b.t,
                plan.steps.len(),
                us(t_key),
                us(t_prep),
                us(t_written),
                us(t_first0),
                us(t_first),
                us(t_recorded),
                us(t_submitted),
                us(t_read),
                gpu / 1e3
            );
        }
        let mut times = vec![];
        if let Some(timer) = &timer {
            let ticks = self.read(&timer.readback, timer.bytes())?;
            let period = self.gpu.queue.get_timestamp_period() as f64;
            for (i, (s, [x, y, z])) in plan.steps.iter().zip(&groups).enumerate() {
                if x * y * z == 0 {
                    continue;
                }
                let at = |q: usize| ticks[2 * q] as u64 | (ticks[2 * q + 1] as u64) << 32;
                let (start, end) = (at(2 * i), at(2 * i + 1));
                times.push(KernelTime {
                    kernel: s.pipe.label.clone(),
                    node: s.node.clone(),
                    ns: end.saturating_sub(start) as f64 * period,
                    bytes: (s.bytes)(&b),
                });
            }
        }
        // mapped by the next run's start (the GPU is done with it)
        plan.upload.request();
        for c in &plan.kv_writes {
            if let Some(c) = self.caches.get_mut(c) {
                c.len = b.kv;
            }
        }
        Ok((outs?, times))
    }

    fn plan(&mut self, graph: &Graph, key: (u64, usize)) -> Result<(), BackendError> {
        if self.plans.contains_key(&key) {
            return Ok(());
        }
        let cap = Bindings {
            t: key.1,
            kv: self.caches.capacity,
        };
        let planner = Planner::new(
            &self.gpu,
            &mut self.pipes,
            &mut self.weights,
            &mut self.caches,
            graph,
            cap,
        );
        let plan = planner.plan()?;
        if self.plan_order.len() >= MAX_PLANS {
            if let Some(old) = self.plan_order.pop_front() {
                if let Some(p) = self.plans.remove(&old) {
                    self.gpu.released(p.bytes);
                }
            }
        }
        self.plans.insert(key, plan);
        self.plan_order.push_back(key);
        Ok(())
    }

    /// Checks the run against the plan (caches, attention spans, inputs) and places the inputs in
    /// `upload` (the parameter buffer's contents) at their offsets; returns the copies that take
    /// them from there to their buffers (input and bytes).
    fn prepare<'p>(
        &self,
        plan: &'p Plan,
        inputs: &[(&str, HostTensor)],
        b: Bindings,
        upload: &mut Vec<u8>,
    ) -> Result<Vec<(&'p PlanInput, u64)>, BackendError> {
        let mut copies = Vec::with_capacity(plan.inputs.len());
        for c in &plan.kv_writes {
            self.caches.check(c, b.t, b.kv)?;
        }
        for c in &plan.kv_checks {
            let (q, k) = (c.queries.bind(&b), c.keys.bind(&b));
            if k < q {
                return Err(BackendError::Node {
                    node: c.node.clone(),
                    msg: format!("{k} keys for {q} queries"),
                });
            }
        }
        for i in &plan.inputs {
            let (_, h) = inputs
                .iter()
                .find(|(n, _)| *n == i.name)
                .ok_or_else(|| BackendError::MissingInput(i.name.clone()))?;
            let want = i.ty.shape.bind(&b);
            let node = || format!("input \"{}\"", i.name);
            if h.shape() != want.as_slice() {
                let msg = format!("has shape {:?}, the graph expects {want:?} ({})", h.shape(), i.ty);
                return Err(BackendError::Node { node: node(), msg });
            }
            if count(&i.ty.shape, &b) > count(&i.ty.shape, &plan.cap) {
                let msg = format!(
                    "{:?} exceeds the {:?} this backend was sized for (context size)",
                    want,
                    i.ty.shape.bind(&plan.cap)
                );
                return Err(BackendError::Node { node: node(), msg });
            }
            let bytes: &[u8] = match (h, i.ty.dtype) {
                (HostTensor::F32 { data, .. }, DType::F32) => bytemuck::cast_slice(data),
                (HostTensor::I32 { data, .. }, DType::I32) => {
                    if let Some(limit) = i.id_limit {
                        if let Some(bad) = data.iter().find(|&&v| v < 0 || v as usize >= limit) {
                            return Err(BackendError::Node {
                                node: node(),
                                msg: format!("id {bad} is outside 0..{limit}"),
                            });
                        }
                    }
                    bytemuck::cast_slice(data)
                }
                _ => {
                    return Err(BackendError::Node {
                        node: node(),
                        msg: format!("must be {}", i.ty),
                    })
                }
            };
            if !bytes.is_empty() {
                let at = i.upload as usize;
                upload.resize(at, 0);
                upload.extend_from_slice(bytes);
                copies.push((i, bytes.len() as u64));
            }
        }
        Ok(copies)
    }
}

impl Backend for WgpuBackend<'_> {
    fn name(&self) -> String {
        format!("wgpu ({})", self.gpu.name())
    }

    fn run(
        &mut self,
        graph: &Graph,
        inputs: &[(&str, HostTensor)],
        b: Bindings,
    ) -> Result<Vec<HostTensor>, BackendError> {
        Ok(self.run_inner(graph, inputs, b, false)?.0)
    }

    fn reset(&mut self) {
        self.caches.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submit_parts_grow_and_cover_every_launch() {
        let lens = |n, most| submit_parts(n, most).iter().map(|r| r.len()).collect::<Vec<_>>();
        assert_eq!(lens(240, 128), [8, 16, 32, 64, 120]);
        assert_eq!(lens(240, 32), [8, 16, 32, 32, 32, 32, 32, 32, 24]);
        assert_eq!(lens(240, 0), [240]);
        assert_eq!(lens(5, 4), [4, 1]);
        assert_eq!(lens(0, 32), Vec::<usize>::new());
        for (n, most) in [(240, 128), (7, 3), (1000, 64), (3, 0)] {
            let parts = submit_parts(n, most);
            let joined: Vec<usize> = parts.into_iter().flatten().collect();
            assert_eq!(joined, (0..n).collect::<Vec<_>>());
        }
    }
}
