//! A compiled graph: the buffers of its values and the kernel launches that compute them, made
//! once per (graph, batch-size bucket) and replayed by every run with fresh parameters.
//!
//! Planning walks the graph in topological order ([`Planner::lower_node`], in `lower*.rs`).
//! Activation buffers come from a pool sized for the bucket's largest batch (`t` rounded up to a
//! power of two, `kv` = the context size) and return to it after their last use; `reshape` is an
//! alias; weights stay where [`WeightStore`] put them; `kv_write` results are the caches
//! themselves. Each launch computes its parameter block and workgroup count from the run's
//! bindings, so a plan serves every `t` of its bucket and every `kv`. Bind groups are made once.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use lingot_ir::exec::BackendError;
use lingot_ir::{Bindings, DType, Dim, Graph, NodeId, Shape, TensorType, Value};

use crate::device::Gpu;
use crate::kernels::Kernel;
use crate::kv::KvCaches;
use crate::pipelines::{bind_group, Params, Pipeline, Pipelines, PARAM_BYTES};
use crate::weights::{GpuWeight, WeightStore, WeightView};
use crate::WgpuError;

/// Computes a launch's parameter block and workgroup counts from the run's bindings.
pub type LaunchFn = Box<dyn Fn(&Bindings) -> (Params, [u32; 3]) + Send + Sync>;
/// Bytes a launch reads from device memory under the run's bindings (for profiles).
pub type BytesFn = Box<dyn Fn(&Bindings) -> u64 + Send + Sync>;

pub struct Step {
    pub pipe: Arc<Pipeline>,
    pub bind_group: wgpu::BindGroup,
    pub launch: LaunchFn,
    /// The node it computes, as errors name it.
    pub node: String,
    pub bytes: BytesFn,
}

pub struct PlanInput {
    pub name: String,
    pub ty: TensorType,
    pub buffer: wgpu::Buffer,
    /// For `tokens`-like inputs read by `get_rows`: every id must be below this.
    pub id_limit: Option<usize>,
    /// Where the run's values arrive in the parameter buffer, to be copied into `buffer`.
    pub upload: u64,
}

pub struct PlanOutput {
    pub name: String,
    pub ty: TensorType,
    pub buffer: wgpu::Buffer,
}

/// Attention reads positions `kv - t ..`: the bound `kv` must cover the queries.
pub struct KvCheck {
    pub node: String,
    pub queries: Dim,
    pub keys: Dim,
}

pub struct Plan {
    pub steps: Vec<Step>,
    /// Every launch's parameter block.
    pub params: wgpu::Buffer,
    /// The parameter blocks, then the inputs (at [`PlanInput::upload`]), as the host writes them
    /// for a run; the run's first commands copy them to `params` and the inputs' buffers.
    pub upload: Upload,
    /// Bytes between parameter blocks (the device's uniform offset alignment).
    pub stride: u64,
    pub inputs: Vec<PlanInput>,
    pub outputs: Vec<PlanOutput>,
    pub staging: wgpu::Buffer,
    /// Caches written by the graph.
    pub kv_writes: Vec<String>,
    pub kv_checks: Vec<KvCheck>,
    /// The bucket's largest bindings, which sized the buffers.
    pub cap: Bindings,
    /// Bytes of the buffers this plan owns.
    pub bytes: u64,
}

/// A host-writable buffer that a run's parameters and inputs travel in, kept mapped between runs
/// so that a run writes straight into it (a queue write makes and maps a new staging buffer each
/// time: ~60 us a decode token on an H100).
pub struct Upload {
    pub buffer: wgpu::Buffer,
    /// The outcome of the last map request, once it has come.
    mapped: Arc<Mutex<Option<Result<(), wgpu::BufferAsyncError>>>>,
    requested: AtomicBool,
}

impl Upload {
    fn new(buffer: wgpu::Buffer) -> Upload {
        Upload {
            buffer,
            mapped: Arc::default(),
            requested: AtomicBool::new(false),
        }
    }

    /// Asks for the buffer to be mapped (granted at the device's next poll once the GPU is done
    /// with it); a run asks when it has read its results back.
    pub fn request(&self) {
        if !self.requested.swap(true, Ordering::AcqRel) {
            let mapped = self.mapped.clone();
            self.buffer.slice(..).map_async(wgpu::MapMode::Write, move |r| {
                if let Ok(mut m) = mapped.lock() {
                    *m = Some(r);
                }
            });
        }
    }

    fn take_mapped(&self) -> Option<Result<(), wgpu::BufferAsyncError>> {
        self.mapped.lock().ok().and_then(|mut m| m.take())
    }

    /// Writes `bytes` at the start of the buffer and unmaps it for the GPU.
    pub fn write(&self, gpu: &Gpu, bytes: &[u8]) -> Result<(), WgpuError> {
        self.request();
        let lost = |reason: String| WgpuError::DeviceLost {
            adapter: gpu.name(),
            reason,
        };
        let mapped = match self.take_mapped() {
            Some(r) => r,
            None => {
                gpu.device.poll(wgpu::PollType::Poll).map_err(|e| lost(e.to_string()))?;
                match self.take_mapped() {
                    Some(r) => r,
                    None => {
                        gpu.wait()?;
                        self.take_mapped()
                            .ok_or_else(|| lost("the upload buffer was never mapped".into()))?
                    }
                }
            }
        };
        self.requested.store(false, Ordering::Release);
        mapped.map_err(|e| lost(format!("mapping the upload buffer: {e}")))?;
        {
            let len = bytes.len() as u64;
            let mut view = self
                .buffer
                .slice(..len.next_multiple_of(wgpu::MAP_ALIGNMENT))
                .get_mapped_range_mut()
                .map_err(|e| lost(format!("writing the upload buffer: {e}")))?;
            view.slice(..bytes.len()).copy_from_slice(bytes);
        }
        self.buffer.unmap();
        Ok(())
    }
}

/// Where a value lives.
#[derive(Clone)]
pub enum Loc {
    /// f32 or i32 elements, contiguous, outermost first; `pool` when the buffer is recycled.
    Act { buffer: wgpu::Buffer, pool: Option<usize> },
    /// A weight (or a view of one) in its stored dtype.
    Weight(WeightView),
    /// `rms_norm(x) * w` left to the kernels that read it (decode mat-vecs): `x` is the norm's
    /// input (its buffer kept alive for them, `pool` as in `Act`), `w` the norm weight.
    Normed {
        x: wgpu::Buffer,
        pool: Option<usize>,
        w: wgpu::Buffer,
        eps: f32,
        shape: Shape,
    },
}

impl Loc {
    /// The recycled buffer this value lives in (a folded norm's: its input's), if any.
    fn pool(&self) -> Option<usize> {
        match self {
            Loc::Act { pool, .. } | Loc::Normed { pool, .. } => *pool,
            Loc::Weight(_) => None,
        }
    }
}

/// A folded norm, as the kernels that fold it take it: the norm weight and eps.
pub type Norm = Option<(wgpu::Buffer, f32)>;

struct Pending {
    pipe: Arc<Pipeline>,
    buffers: Vec<wgpu::Buffer>,
    launch: LaunchFn,
    node: String,
    bytes: BytesFn,
}

/// Recycled activation buffers, with how many reads each still has ahead.
#[derive(Default)]
struct Pool {
    buffers: Vec<(wgpu::Buffer, u64)>,
    free: Vec<usize>,
    reads_left: Vec<usize>,
    pinned: Vec<bool>,
}

/// Elements of `shape` under `b`.
pub fn count(shape: &Shape, b: &Bindings) -> usize {
    shape.dims().iter().map(|d| d.bind(b)).product()
}

pub struct Planner<'a, 'w> {
    pub gpu: &'a Gpu,
    pub pipes: &'a mut Pipelines,
    pub weights: &'a mut WeightStore<'w>,
    pub caches: &'a mut KvCaches,
    pub graph: &'a Graph,
    pub cap: Bindings,
    pub node: NodeId,
    locs: HashMap<Value, Loc>,
    /// Reads of each value by later nodes.
    uses: HashMap<Value, usize>,
    pub outputs: HashSet<Value>,
    pending: Vec<Pending>,
    pool: Pool,
    temps: Vec<usize>,
    pub inputs: Vec<PlanInput>,
    pub kv_writes: Vec<String>,
    pub kv_checks: Vec<KvCheck>,
    /// RoPE frequency tables by (n_rot, base, scale) bits.
    pub rope_tables: HashMap<(usize, u32, u32), wgpu::Buffer>,
    /// moe_sort's (order, offsets) by (expert ids, experts): the expert ops of a layer that share
    /// their ids (moe_gate_up, moe_down) share one sort.
    pub sorts: HashMap<(Value, usize), (wgpu::Buffer, wgpu::Buffer)>,
    /// Pooled buffers kept until a node is lowered ([`Planner::hold_until`]).
    held: Vec<(NodeId, usize)>,
    bytes: u64,
}

impl<'a, 'w> Planner<'a, 'w> {
    pub fn new(
        gpu: &'a Gpu,
        pipes: &'a mut Pipelines,
        weights: &'a mut WeightStore<'w>,
        caches: &'a mut KvCaches,
        graph: &'a Graph,
        cap: Bindings,
    ) -> Planner<'a, 'w> {
        let mut uses = HashMap::new();
        for id in graph.g.node_indices() {
            for v in graph.operands(id) {
                *uses.entry(v).or_insert(0) += 1;
            }
        }
        let outputs = graph.outputs.iter().map(|(v, _)| *v).collect();
        Planner {
            gpu,
            pipes,
            weights,
            caches,
            graph,
            cap,
            node: NodeId::new(0),
            locs: HashMap::new(),
            uses,
            outputs,
            pending: vec![],
            pool: Pool::default(),
            temps: vec![],
            inputs: vec![],
            kv_writes: vec![],
            kv_checks: vec![],
            rope_tables: HashMap::new(),
            sorts: HashMap::new(),
            held: vec![],
            bytes: 0,
        }
    }

    /// The current node, as errors name it: `mul_mat "ffn_up.3" (12)`.
    pub fn label(&self) -> String {
        let n = self.graph.node(self.node);
        let name = n.name.as_deref().map(|s| format!(" \"{s}\"")).unwrap_or_default();
        format!("{}{name} ({})", n.op.name(), self.node.index())
    }

    pub fn err(&self, msg: impl Into<String>) -> BackendError {
        BackendError::Node {
            node: self.label(),
            msg: msg.into(),
        }
    }

    pub fn ty(&self, v: Value) -> &'a TensorType {
        self.graph.ty(v)
    }

    pub fn loc(&self, v: Value) -> Result<Loc, BackendError> {
        self.locs
            .get(&v)
            .cloned()
            .ok_or_else(|| self.err("an operand has no value (graph order)"))
    }

    /// Plans the whole graph.
    pub fn plan(mut self) -> Result<Plan, BackendError> {
        let order = self.graph.topo_order().map_err(|n| {
            self.node = n;
            self.err("the graph has a cycle")
        })?;
        for id in order {
            self.node = id;
            self.lower_node(id)?;
            self.release_operands(id);
        }
        self.finish()
    }

    /// Sets the location of result `index` of the current node.
    pub fn define(&mut self, index: u32, loc: Loc) {
        let v = Value { node: self.node, index };
        if let Some(p) = loc.pool() {
            self.pool.reads_left[p] += self.uses.get(&v).copied().unwrap_or(0);
            if self.outputs.contains(&v) {
                self.pool.pinned[p] = true;
            }
        }
        self.locs.insert(v, loc);
    }

    fn release_operands(&mut self, id: NodeId) {
        let mut pools: Vec<usize> = self
            .graph
            .operands(id)
            .iter()
            .filter_map(|v| self.locs.get(v).and_then(Loc::pool))
            .collect();
        let held = self.held.iter().filter(|(until, _)| *until == id).map(|(_, p)| *p);
        pools.extend(held);
        self.held.retain(|(until, _)| *until != id);
        for p in pools {
            self.pool.reads_left[p] = self.pool.reads_left[p].saturating_sub(1);
            self.maybe_free(p);
        }
        // results nobody reads, and temporaries
        for r in 0..self.graph.node(id).results.len() as u32 {
            if let Some(Loc::Act { pool: Some(p), .. }) = self.locs.get(&Value { node: id, index: r }) {
                let p = *p;
                self.maybe_free(p);
            }
        }
        for p in std::mem::take(&mut self.temps) {
            self.pool.reads_left[p] = 0;
            self.maybe_free(p);
        }
    }

    /// Keeps operand `v`'s buffer (if pooled) from reuse until node `until` has been lowered: for
    /// a node that takes no launch because a later one reads its operands in its place.
    pub fn hold_until(&mut self, v: Value, until: NodeId) {
        if let Some(p) = self.locs.get(&v).and_then(Loc::pool) {
            self.pool.reads_left[p] += 1;
            self.held.push((until, p));
        }
    }

    fn maybe_free(&mut self, p: usize) {
        if self.pool.reads_left[p] == 0 && !self.pool.pinned[p] && !self.pool.free.contains(&p) {
            self.pool.free.push(p);
        }
    }

    /// A pooled buffer of at least `bytes`.
    fn pooled(&mut self, bytes: u64, what: &str) -> Result<(wgpu::Buffer, usize), BackendError> {
        let bytes = bytes.max(16).next_multiple_of(256);
        if bytes > self.gpu.max_binding() {
            let e = crate::WgpuError::TooLarge {
                adapter: self.gpu.name(),
                what: format!("{what} of {}", self.label()),
                bytes,
                limit_name: "storage binding",
                limit: self.gpu.max_binding(),
            };
            return Err(e.into());
        }
        let fit = self
            .pool
            .free
            .iter()
            .enumerate()
            .filter(|(_, p)| {
                self.pool.buffers[**p].1 >= bytes && self.pool.buffers[**p].1 <= bytes.saturating_mul(4).max(1 << 20)
            })
            .min_by_key(|(_, p)| self.pool.buffers[**p].1);
        if let Some((i, _)) = fit {
            let p = self.pool.free.swap_remove(i);
            return Ok((self.pool.buffers[p].0.clone(), p));
        }
        let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
        let buffer = self.gpu.buffer(what, bytes, usage)?;
        self.bytes += bytes;
        self.pool.buffers.push((buffer.clone(), bytes));
        self.pool.reads_left.push(0);
        self.pool.pinned.push(false);
        Ok((buffer, self.pool.buffers.len() - 1))
    }

    /// A new buffer for result `index` of the current node, sized for the bucket.
    pub fn out(&mut self, index: u32) -> Result<wgpu::Buffer, BackendError> {
        let ty = &self.graph.node(self.node).results[index as usize];
        self.out_elems(index, count(&ty.shape, &self.cap))
    }

    /// Result `index` of the current node in a buffer of `elems` 32-bit words (more than its
    /// type holds where a kernel keeps more there: moe_gate_up's folded shared expert).
    pub fn out_elems(&mut self, index: u32, elems: usize) -> Result<wgpu::Buffer, BackendError> {
        let (buffer, p) = self.pooled(4 * elems as u64, "activation")?;
        self.define(
            index,
            Loc::Act {
                buffer: buffer.clone(),
                pool: Some(p),
            },
        );
        Ok(buffer)
    }

    /// A buffer of `elems` 32-bit words kept for the plan's whole run (never recycled).
    pub fn kept(&mut self, elems: usize) -> Result<wgpu::Buffer, BackendError> {
        let (buffer, p) = self.pooled(4 * elems as u64, "scratch")?;
        self.pool.pinned[p] = true;
        Ok(buffer)
    }

    /// A scratch buffer of `elems` 32-bit words, released after the current node.
    pub fn temp(&mut self, elems: usize) -> Result<wgpu::Buffer, BackendError> {
        let (buffer, p) = self.pooled(4 * elems as u64, "scratch")?;
        self.temps.push(p);
        Ok(buffer)
    }

    /// A dedicated buffer (graph inputs).
    pub fn dedicated(&mut self, bytes: u64, what: &str) -> Result<wgpu::Buffer, BackendError> {
        let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
        let bytes = bytes.max(16).next_multiple_of(16);
        self.bytes += bytes;
        Ok(self.gpu.buffer(what, bytes, usage)?)
    }

    /// Operand `v` as f32/i32 elements in a buffer (weights as their f32 copy).
    pub fn act(&mut self, v: Value) -> Result<wgpu::Buffer, BackendError> {
        match self.loc(v)? {
            Loc::Act { buffer, .. } => Ok(buffer),
            Loc::Weight(view) => self.weights.dense(self.gpu, self.pipes, &view),
            // a reader that cannot fold the norm: it is computed for this reader
            Loc::Normed { x, w, eps, shape, .. } => {
                let out = self.temp(count(&shape, &self.cap))?;
                self.norm_into(x, w, eps, shape, out.clone())?;
                Ok(out)
            }
        }
    }

    /// Operand `v` as the x of a kernel that can fold a norm: the buffer, and the norm when `v`
    /// is a folded `rms_norm_mul` (the buffer is then the norm's input).
    pub fn act_or_normed(&mut self, v: Value) -> Result<(wgpu::Buffer, Norm), BackendError> {
        match self.loc(v)? {
            Loc::Normed { x, w, eps, .. } => Ok((x, Some((w, eps)))),
            _ => Ok((self.act(v)?, None)),
        }
    }

    /// Operand `v` as a matrix in its stored dtype (an f32 activation of constant shape is one).
    pub fn matrix(&mut self, v: Value) -> Result<Arc<GpuWeight>, BackendError> {
        match self.loc(v)? {
            Loc::Weight(view) => self.weights.get(self.gpu, &view),
            Loc::Normed { .. } => Err(self.err("a matrix operand must be a weight or f32 of constant shape")),
            Loc::Act { buffer, .. } => {
                let ty = self.ty(v);
                let shape: Option<Vec<usize>> = ty.shape.dims().iter().map(|d| d.as_const()).collect();
                let (Some(shape), DType::F32) = (shape, ty.dtype) else {
                    return Err(self.err(format!(
                        "a matrix operand must be a weight or f32 of constant shape, got {ty}"
                    )));
                };
                let outer = shape.first().copied().unwrap_or(1).max(1);
                let total = 4 * shape.iter().product::<usize>() as u64;
                let chunk = crate::weights::Chunk {
                    buffer,
                    start: 0,
                    len: outer,
                };
                Ok(Arc::new(GpuWeight {
                    dtype: DType::F32,
                    shape,
                    outer_bytes: total / outer as u64,
                    chunks: vec![chunk],
                }))
            }
        }
    }

    /// Records a launch of `kernel` over `buffers` (read-only bindings first).
    /// Its profile counts the read-only buffers whole (the bucket's size: an upper bound).
    pub fn push(&mut self, kernel: Kernel, buffers: Vec<wgpu::Buffer>, launch: LaunchFn) -> Result<(), BackendError> {
        let ro = kernel.bindings().0 as usize;
        let read: u64 = buffers.iter().take(ro).map(wgpu::Buffer::size).sum();
        self.push_counted(kernel, buffers, launch, Box::new(move |_| read))
    }

    /// [`Planner::push`] with the bytes the launch reads, for profiles.
    pub fn push_counted(
        &mut self,
        kernel: Kernel,
        buffers: Vec<wgpu::Buffer>,
        launch: LaunchFn,
        bytes: BytesFn,
    ) -> Result<(), BackendError> {
        let pipe = self.pipes.get(self.gpu, kernel)?;
        let node = self.label();
        self.pending.push(Pending {
            pipe,
            buffers,
            launch,
            node,
            bytes,
        });
        Ok(())
    }

    fn finish(mut self) -> Result<Plan, BackendError> {
        let mut outputs = vec![];
        for (v, name) in &self.graph.outputs {
            self.node = v.node;
            let buffer = self.act(*v)?;
            outputs.push(PlanOutput {
                name: name.clone(),
                ty: self.ty(*v).clone(),
                buffer,
            });
        }
        let stride = PARAM_BYTES.max(self.gpu.limits.min_uniform_buffer_offset_alignment as u64);
        let n = self.pending.len().max(1) as u64;
        let mut params_bytes = n * stride;
        for i in &mut self.inputs {
            i.upload = params_bytes;
            params_bytes += staging_size(&i.ty, &self.cap);
        }
        let params = self.gpu.buffer(
            "parameters",
            n * stride,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        )?;
        let upload = Upload::new(self.gpu.buffer(
            "parameters and inputs upload",
            params_bytes,
            wgpu::BufferUsages::MAP_WRITE | wgpu::BufferUsages::COPY_SRC,
        )?);
        let steps = self
            .pending
            .drain(..)
            .enumerate()
            .map(|(i, p)| Step {
                bind_group: bind_group(self.gpu, &p.pipe, &params, i as u64 * stride, &p.buffers),
                pipe: p.pipe,
                launch: p.launch,
                node: p.node,
                bytes: p.bytes,
            })
            .collect();
        let staging_bytes: u64 = outputs.iter().map(|o| staging_size(&o.ty, &self.cap)).sum();
        let staging = self.gpu.buffer(
            "outputs",
            staging_bytes,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        )?;
        Ok(Plan {
            steps,
            params,
            upload,
            stride,
            inputs: self.inputs,
            outputs,
            staging,
            kv_writes: self.kv_writes,
            kv_checks: self.kv_checks,
            cap: self.cap,
            bytes: self.bytes + n * stride + params_bytes + staging_bytes,
        })
    }
}

/// Bytes an output takes in the staging buffer (256-aligned slots).
pub fn staging_size(ty: &TensorType, b: &Bindings) -> u64 {
    (4 * count(&ty.shape, b) as u64).max(4).next_multiple_of(256)
}
