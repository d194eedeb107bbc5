//! Weights on the GPU: uploaded once, on first use, in their stored dtype (GGUF blocks read as
//! u32 words by the kernels), split along the outermost dimension into chunks that each fit one
//! storage binding. `reshape` / `slice` of a weight become views made on the host from the file's
//! bytes. A weight that feeds an elementwise op also gets an f32 copy, dequantized on the GPU.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use lingot_ir::exec::{BackendError, Weights};
use lingot_ir::DType;

use crate::device::Gpu;
use crate::kernels::Kernel;
use crate::pipelines::{bind_group, grid_items, Params, Pipelines, PARAM_BYTES};
use crate::WgpuError;

/// A view step applied to a stored weight.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ViewOp {
    Reshape(Vec<usize>),
    Slice { axis: usize, start: usize, len: usize },
}

/// A weight as a graph value sees it: the stored tensor `name`, through `ops`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WeightView {
    pub name: String,
    pub dtype: DType,
    /// The shape after `ops`.
    pub shape: Vec<usize>,
    pub ops: Vec<ViewOp>,
}

impl WeightView {
    pub fn describe(&self) -> String {
        if self.ops.is_empty() {
            format!("weight \"{}\"", self.name)
        } else {
            format!("a view {:?} of weight \"{}\"", self.shape, self.name)
        }
    }
}

/// Outer indices `[start, start + len)` of a weight, in one buffer.
pub struct Chunk {
    pub buffer: wgpu::Buffer,
    pub start: usize,
    pub len: usize,
}

/// A weight (or an f32 activation used as a matrix) in its stored dtype.
pub struct GpuWeight {
    pub dtype: DType,
    pub shape: Vec<usize>,
    /// Bytes of one index of the outermost dimension (a row, or an expert).
    pub outer_bytes: u64,
    pub chunks: Vec<Chunk>,
}

impl GpuWeight {
    /// Whether `other` is split over buffers at the same outer indices (gate and up read in one
    /// pass need it).
    pub fn split_like(&self, other: &GpuWeight) -> bool {
        self.chunks.len() == other.chunks.len()
            && self
                .chunks
                .iter()
                .zip(&other.chunks)
                .all(|(a, b)| (a.start, a.len) == (b.start, b.len))
    }

    /// Bytes of one row (the innermost dimension).
    pub fn row_bytes(&self) -> u64 {
        let k = self.shape.last().copied().unwrap_or(1) as u64;
        self.dtype.row_bytes(k).unwrap_or(0)
    }
}

fn tensor_bytes(dtype: DType, shape: &[usize]) -> Option<u64> {
    let (last, outer) = shape.split_last().map(|(l, o)| (*l, o)).unwrap_or((1, &[]));
    let rows = outer.iter().try_fold(1u64, |a, d| a.checked_mul(*d as u64))?;
    dtype.row_bytes(last as u64)?.checked_mul(rows)
}

/// Applies the view steps to the stored bytes.
fn materialize<'a>(
    dtype: DType,
    shape: &[usize],
    bytes: &'a [u8],
    ops: &[ViewOp],
) -> Result<(Vec<usize>, Cow<'a, [u8]>), String> {
    let mut shape = shape.to_vec();
    let mut data = Cow::Borrowed(bytes);
    let be = dtype.block_elems();
    for op in ops {
        match op {
            ViewOp::Reshape(s) => {
                if s.last().is_some_and(|l| l % be != 0) {
                    return Err(format!("reshape to {s:?} splits {dtype} blocks"));
                }
                shape = s.clone();
            }
            ViewOp::Slice { axis, start, len } => {
                let last = shape.len().saturating_sub(1);
                let n = shape[*axis];
                // bytes of one index of `axis`, and what a slice step copies
                let (outer, unit, skip, take) = if *axis == last {
                    if start % be != 0 || len % be != 0 {
                        return Err(format!(
                            "slice {start}..{} of the last axis splits {dtype} blocks",
                            start + len
                        ));
                    }
                    let bb = dtype.block_bytes();
                    let outer: usize = shape[..last].iter().product();
                    (outer, n / be * bb, start / be * bb, len / be * bb)
                } else {
                    let inner = tensor_bytes(dtype, &shape[axis + 1..]).ok_or("size overflow")? as usize;
                    let outer: usize = shape[..*axis].iter().product();
                    (outer, n * inner, start * inner, len * inner)
                };
                let mut out = Vec::with_capacity(outer * take);
                for o in 0..outer {
                    out.extend_from_slice(&data[o * unit + skip..o * unit + skip + take]);
                }
                data = Cow::Owned(out);
                shape[*axis] = *len;
            }
        }
    }
    Ok((shape, data))
}

/// The weights of one backend: the source, what is uploaded, and the largest chunk.
pub struct WeightStore<'w> {
    src: &'w dyn Weights,
    chunk_limit: u64,
    uploaded: HashMap<WeightView, Arc<GpuWeight>>,
    dense: HashMap<WeightView, wgpu::Buffer>,
}

fn err(view: &WeightView, msg: impl Into<String>) -> BackendError {
    BackendError::Node {
        node: format!("weight \"{}\"", view.name),
        msg: msg.into(),
    }
}

impl<'w> WeightStore<'w> {
    /// `chunk_limit`: the most bytes one chunk may hold (the binding limit, or lower in tests).
    pub fn new(src: &'w dyn Weights, chunk_limit: u64) -> WeightStore<'w> {
        // kernels address bytes with u32
        let chunk_limit = chunk_limit.min(u32::MAX as u64 & !255).max(4);
        WeightStore {
            src,
            chunk_limit,
            uploaded: HashMap::new(),
            dense: HashMap::new(),
        }
    }

    /// Checks that the file holds `name` as `dtype[shape]`.
    pub fn check(&self, name: &str, dtype: DType, shape: &[usize]) -> Result<(), BackendError> {
        let w = self
            .src
            .weight(name)
            .ok_or_else(|| BackendError::MissingWeight(name.into()))?;
        let node = || format!("weight \"{name}\"");
        if w.dtype != dtype || w.shape != shape {
            let msg = format!(
                "the file holds {}{:?}, the graph expects {dtype}{shape:?}",
                w.dtype, w.shape
            );
            return Err(BackendError::Node { node: node(), msg });
        }
        match tensor_bytes(dtype, shape) {
            Some(b) if b == w.bytes.len() as u64 => Ok(()),
            b => {
                let msg = format!("{dtype}{shape:?} takes {b:?} bytes, the file has {}", w.bytes.len());
                Err(BackendError::Node { node: node(), msg })
            }
        }
    }

    /// Chunks of the uploaded weight `name` (the stored tensor, not a view).
    pub fn chunks_of(&self, name: &str) -> Option<usize> {
        self.uploaded
            .iter()
            .find(|(v, _)| v.name == name && v.ops.is_empty())
            .map(|(_, w)| w.chunks.len())
    }

    /// Whether a weight of `bytes` bytes is uploaded as one buffer (one chunk).
    pub fn fits_one_chunk(&self, bytes: u64) -> bool {
        bytes <= self.chunk_limit
    }

    /// The view on the GPU in its stored dtype, uploaded on first use.
    pub fn get(&mut self, gpu: &Gpu, view: &WeightView) -> Result<Arc<GpuWeight>, BackendError> {
        if let Some(w) = self.uploaded.get(view) {
            return Ok(w.clone());
        }
        let data = self
            .src
            .weight(&view.name)
            .ok_or_else(|| BackendError::MissingWeight(view.name.clone()))?;
        let (shape, bytes) = materialize(data.dtype, data.shape, data.bytes, &view.ops).map_err(|m| err(view, m))?;
        let w = Arc::new(self.upload(gpu, &view.describe(), data.dtype, shape, &bytes)?);
        self.uploaded.insert(view.clone(), w.clone());
        Ok(w)
    }

    fn upload(
        &self,
        gpu: &Gpu,
        what: &str,
        dtype: DType,
        shape: Vec<usize>,
        bytes: &[u8],
    ) -> Result<GpuWeight, WgpuError> {
        let outer = shape.first().copied().unwrap_or(1).max(1);
        let outer_bytes = bytes.len() as u64 / outer as u64;
        let per_chunk = (self.chunk_limit / outer_bytes.max(1)) as usize;
        if per_chunk == 0 {
            return Err(WgpuError::TooLarge {
                adapter: gpu.name(),
                what: format!("one outer index of {what}"),
                bytes: outer_bytes,
                limit_name: "storage binding",
                limit: self.chunk_limit,
            });
        }
        let mut chunks = vec![];
        for start in (0..outer).step_by(per_chunk) {
            let len = per_chunk.min(outer - start);
            let part = &bytes[start * outer_bytes as usize..(start + len) * outer_bytes as usize];
            let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC;
            let buffer = gpu.buffer(what, part.len() as u64, usage)?;
            write_padded(gpu, &buffer, part);
            chunks.push(Chunk { buffer, start, len });
        }
        // flush the staging copies of large uploads now rather than with the first run
        gpu.queue.submit([]);
        Ok(GpuWeight {
            dtype,
            shape,
            outer_bytes,
            chunks,
        })
    }

    /// The view as dense f32 on the GPU (for elementwise ops), dequantized once by the dequant kernel.
    pub fn dense(&mut self, gpu: &Gpu, pipes: &mut Pipelines, view: &WeightView) -> Result<wgpu::Buffer, BackendError> {
        if let Some(b) = self.dense.get(view) {
            return Ok(b.clone());
        }
        let w = self.get(gpu, view)?;
        let buffer = match (w.dtype, w.chunks.as_slice()) {
            (DType::F32, [one]) => one.buffer.clone(),
            (_, [one]) => dequantize(gpu, pipes, w.dtype, &one.buffer, &w.shape, &view.describe())?,
            _ => {
                return Err(err(
                    view,
                    "is split over several buffers and cannot feed an elementwise op",
                ))
            }
        };
        self.dense.insert(view.clone(), buffer.clone());
        Ok(buffer)
    }
}

/// Writes `bytes` at the start of `buffer`, the last partial word zero-padded (copies move
/// whole words).
pub fn write_padded(gpu: &Gpu, buffer: &wgpu::Buffer, bytes: &[u8]) {
    let whole = bytes.len() / 4 * 4;
    if whole > 0 {
        gpu.queue.write_buffer(buffer, 0, &bytes[..whole]);
    }
    if whole < bytes.len() {
        let mut tail = [0u8; 4];
        tail[..bytes.len() - whole].copy_from_slice(&bytes[whole..]);
        gpu.queue.write_buffer(buffer, whole as u64, &tail);
    }
}

/// Runs the dequant kernel over a whole tensor held in one buffer; returns a new f32 buffer.
pub fn dequantize(
    gpu: &Gpu,
    pipes: &mut Pipelines,
    dtype: DType,
    src: &wgpu::Buffer,
    shape: &[usize],
    what: &str,
) -> Result<wgpu::Buffer, WgpuError> {
    let k = shape.last().copied().unwrap_or(1);
    let elems: usize = shape.iter().product();
    let rows = elems / k.max(1);
    let bytes = 4 * elems as u64;
    if bytes > gpu.max_binding() {
        let limit = gpu.max_binding();
        return Err(WgpuError::TooLarge {
            adapter: gpu.name(),
            what: format!("{what} as f32"),
            bytes,
            limit_name: "storage binding",
            limit,
        });
    }
    let out = gpu.buffer(
        &format!("{what} (f32)"),
        bytes,
        wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
    )?;
    let row_bytes = dtype.row_bytes(k as u64).unwrap_or(0) as usize;
    let params = Params::new().u(rows).u(k).u(row_bytes).u(0);
    let pbuf = gpu.buffer(
        "dequant params",
        PARAM_BYTES,
        wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
    )?;
    gpu.queue.write_buffer(&pbuf, 0, &params.bytes());
    let kernel = Kernel::Dequant(dtype);
    let pipe = pipes.get(gpu, kernel)?;
    let bg = bind_group(gpu, &pipe, &pbuf, 0, &[src.clone(), out.clone()]);
    let mut enc = gpu.device.create_command_encoder(&Default::default());
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipe.pipeline);
        pass.set_bind_group(0, &bg, &[]);
        let [x, y, z] = grid_items(rows * k.div_ceil(4), kernel.workgroup_size());
        pass.dispatch_workgroups(x, y, z);
    }
    gpu.queue.submit([enc.finish()]);
    gpu.released(PARAM_BYTES.next_multiple_of(16));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_slice_rows_and_blocks() {
        // f32 [3, 4]: rows 1..3, then columns 2..4
        let v: Vec<u8> = (0..12u32).flat_map(|i| (i as f32).to_le_bytes()).collect();
        let ops = [
            ViewOp::Slice {
                axis: 0,
                start: 1,
                len: 2,
            },
            ViewOp::Slice {
                axis: 1,
                start: 2,
                len: 2,
            },
        ];
        let (shape, b) = materialize(DType::F32, &[3, 4], &v, &ops).unwrap();
        assert_eq!(shape, vec![2, 2]);
        let f: Vec<f32> = b
            .chunks(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(f, vec![6.0, 7.0, 10.0, 11.0]);
        // q8_0 [2, 64]: the second block of each row
        let q: Vec<u8> = (0..2 * 2 * 34).map(|i| i as u8).collect();
        let (shape, b) = materialize(
            DType::Q8_0,
            &[2, 64],
            &q,
            &[ViewOp::Slice {
                axis: 1,
                start: 32,
                len: 32,
            }],
        )
        .unwrap();
        assert_eq!(shape, vec![2, 32]);
        assert_eq!(&b[..34], &q[34..68]);
        assert_eq!(&b[34..], &q[102..136]);
        assert!(materialize(
            DType::Q8_0,
            &[2, 64],
            &q,
            &[ViewOp::Slice {
                axis: 1,
                start: 16,
                len: 32
            }]
        )
        .is_err());
    }
}
