//! Timestamp queries for profiles: two per launch (start and end of its compute pass), in query
//! sets of at most `wgpu::QUERY_SET_MAX_QUERIES`, resolved into one buffer and read back.

use crate::device::Gpu;
use crate::WgpuError;

pub struct Timer {
    sets: Vec<wgpu::QuerySet>,
    resolve: wgpu::Buffer,
    pub readback: wgpu::Buffer,
    queries: u32,
}

/// Queries per set: an even number, so a launch's two stay in one set.
const PER_SET: u32 = wgpu::QUERY_SET_MAX_QUERIES & !1;

impl Timer {
    /// Queries for `launches` launches.
    pub fn new(gpu: &Gpu, launches: usize) -> Result<Timer, WgpuError> {
        let queries = (2 * launches.max(1)) as u32;
        let sets = (0..queries.div_ceil(PER_SET))
            .map(|i| {
                gpu.device.create_query_set(&wgpu::QuerySetDescriptor {
                    label: Some("kernel timestamps"),
                    ty: wgpu::QueryType::Timestamp,
                    count: (queries - i * PER_SET).min(PER_SET),
                })
            })
            .collect();
        let bytes = 8 * queries as u64;
        let resolve = gpu.buffer(
            "timestamps",
            bytes,
            wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
        )?;
        let readback = gpu.buffer(
            "timestamp readback",
            bytes,
            wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        )?;
        Ok(Timer {
            sets,
            resolve,
            readback,
            queries,
        })
    }

    /// Bytes of the resolved timestamps (8 per query).
    pub fn bytes(&self) -> u64 {
        8 * self.queries as u64
    }

    /// Timestamp writes at the start and end of launch `i`'s pass.
    pub fn writes(&self, i: usize) -> wgpu::ComputePassTimestampWrites<'_> {
        let q = 2 * i as u32;
        wgpu::ComputePassTimestampWrites {
            query_set: &self.sets[(q / PER_SET) as usize],
            beginning_of_pass_write_index: Some(q % PER_SET),
            end_of_pass_write_index: Some(q % PER_SET + 1),
        }
    }

    /// Resolves every query into the readback buffer.
    pub fn resolve(&self, enc: &mut wgpu::CommandEncoder) {
        for (i, set) in self.sets.iter().enumerate() {
            let first = i as u32 * PER_SET;
            let n = (self.queries - first).min(PER_SET);
            enc.resolve_query_set(set, 0..n, &self.resolve, 8 * first as u64);
        }
        enc.copy_buffer_to_buffer(&self.resolve, 0, &self.readback, 0, self.bytes());
    }
}
