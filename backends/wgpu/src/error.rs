//! Errors of the wgpu backend: no adapter, a device that cannot be opened, not enough memory, a
//! lost device, wgpu validation failures. Each says what was asked and what the device has.

use lingot_ir::exec::BackendError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum WgpuError {
    #[error("no GPU adapter found through Vulkan, Metal or D3D12 (`lingot devices` lists what wgpu sees)")]
    NoAdapter,
    #[error("there is no adapter {index}: wgpu sees {count} (`lingot devices` lists them)")]
    NoSuchAdapter { index: usize, count: usize },
    #[error("could not open a device on {adapter}: {msg}")]
    RequestDevice { adapter: String, msg: String },
    #[error(
        "out of GPU memory on {adapter}: {what} needs {bytes} bytes, with {held} bytes already \
         held by lingot{reported}"
    )]
    OutOfMemory {
        adapter: String,
        what: String,
        bytes: u64,
        held: u64,
        reported: String,
    },
    #[error("{what} needs {bytes} bytes, more than {adapter} allows in one {limit_name} ({limit} bytes)")]
    TooLarge {
        adapter: String,
        what: String,
        bytes: u64,
        limit_name: &'static str,
        limit: u64,
    },
    #[error("the GPU device ({adapter}) was lost: {reason}")]
    DeviceLost { adapter: String, reason: String },
    #[error("wgpu reported an error on {adapter}: {msg}")]
    Wgpu { adapter: String, msg: String },
    #[error(
        "{adapter} has no timestamp queries (wgpu feature TIMESTAMP_QUERY), which --profile needs \
         to time each kernel"
    )]
    NoTimestamps { adapter: String },
    #[error("shader {label}: {msg}")]
    Shader { label: String, msg: String },
    #[error("{var}={value:?}: want {want}")]
    BadEnv {
        var: &'static str,
        value: String,
        want: &'static str,
    },
}

impl From<WgpuError> for BackendError {
    fn from(e: WgpuError) -> BackendError {
        BackendError::Device(e.to_string())
    }
}
