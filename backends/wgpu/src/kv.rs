//! KV caches, resident on the GPU: one f32 buffer `[capacity, heads, d]` per cache name, created
//! when a graph first writes it, kept across runs, emptied by `reset`.

use std::collections::HashMap;

use lingot_ir::exec::BackendError;

use crate::device::Gpu;

pub struct KvCache {
    pub buffer: wgpu::Buffer,
    pub heads: usize,
    pub d: usize,
    /// Positions written so far.
    pub len: usize,
}

pub struct KvCaches {
    pub capacity: usize,
    map: HashMap<String, KvCache>,
}

impl KvCaches {
    pub fn new(capacity: usize) -> KvCaches {
        KvCaches {
            capacity,
            map: HashMap::new(),
        }
    }

    /// The buffer of cache `name` with rows of `heads * d`, created empty on first use.
    pub fn buffer(&mut self, gpu: &Gpu, name: &str, heads: usize, d: usize) -> Result<wgpu::Buffer, BackendError> {
        if let Some(c) = self.map.get(name) {
            if (c.heads, c.d) != (heads, d) {
                let msg = format!("holds rows of [{}, {}], this graph writes [{heads}, {d}]", c.heads, c.d);
                return Err(BackendError::Node {
                    node: format!("KV cache \"{name}\""),
                    msg,
                });
            }
            return Ok(c.buffer.clone());
        }
        let bytes = (self.capacity * heads * d * 4) as u64;
        if bytes > gpu.max_binding() {
            let e = crate::WgpuError::TooLarge {
                adapter: gpu.name(),
                what: format!("KV cache \"{name}\" for {} positions", self.capacity),
                bytes,
                limit_name: "storage binding",
                limit: gpu.max_binding(),
            };
            return Err(e.into());
        }
        let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
        let buffer = gpu.buffer(&format!("KV cache {name}"), bytes, usage)?;
        self.map.insert(
            name.to_string(),
            KvCache {
                buffer: buffer.clone(),
                heads,
                d,
                len: 0,
            },
        );
        Ok(buffer)
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut KvCache> {
        self.map.get_mut(name)
    }

    /// Checks that a batch of `t` tokens can be written so that the cache holds `kv` positions:
    /// it fits, and it starts where the cache ends or earlier (rewriting a suffix is allowed).
    pub fn check(&self, name: &str, t: usize, kv: usize) -> Result<(), BackendError> {
        let node = || format!("KV cache \"{name}\"");
        if kv > self.capacity {
            return Err(BackendError::CacheFull {
                cache: name.into(),
                capacity: self.capacity,
                needed: kv,
            });
        }
        if t > kv {
            let msg = format!("a batch of {t} tokens cannot leave {kv} positions cached");
            return Err(BackendError::Node { node: node(), msg });
        }
        let held = self.map.get(name).map_or(0, |c| c.len);
        if kv - t > held {
            let msg = format!("holds {held} positions; this batch starts at {}", kv - t);
            return Err(BackendError::Node { node: node(), msg });
        }
        Ok(())
    }

    /// Forgets every cached position.
    pub fn reset(&mut self) {
        for c in self.map.values_mut() {
            c.len = 0;
        }
    }
}
