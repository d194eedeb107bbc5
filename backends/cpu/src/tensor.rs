//! Dense host tensors the CPU backend computes on, and matrices that may stay quantized.

use std::sync::Arc;

use lingot_ir::exec::WeightData;
use lingot_ir::DType;

use crate::quant;
use crate::CpuError;

/// A computed value: f32 or i32 data, row-major, outermost dim first.
#[derive(Debug, Clone)]
pub enum Tensor {
    F32 { shape: Vec<usize>, data: Arc<Vec<f32>> },
    I32 { shape: Vec<usize>, data: Arc<Vec<i32>> },
}

impl Tensor {
    pub fn f32(shape: Vec<usize>, data: Vec<f32>) -> Tensor {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Tensor::F32 {
            shape,
            data: Arc::new(data),
        }
    }

    pub fn i32(shape: Vec<usize>, data: Vec<i32>) -> Tensor {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Tensor::I32 {
            shape,
            data: Arc::new(data),
        }
    }

    pub fn shape(&self) -> &[usize] {
        match self {
            Tensor::F32 { shape, .. } | Tensor::I32 { shape, .. } => shape,
        }
    }

    pub fn with_shape(&self, shape: Vec<usize>) -> Tensor {
        match self {
            Tensor::F32 { data, .. } => Tensor::F32 {
                shape,
                data: data.clone(),
            },
            Tensor::I32 { data, .. } => Tensor::I32 {
                shape,
                data: data.clone(),
            },
        }
    }
}

/// Size of the last axis and the number of rows before it.
pub fn rows_cols(shape: &[usize]) -> (usize, usize) {
    let cols = shape.last().copied().unwrap_or(1);
    let rows = shape[..shape.len().saturating_sub(1)].iter().product();
    (rows, cols)
}

/// The left operand of a matrix product: a stored weight (any dtype, rows dequantized on use)
/// or a computed f32 tensor.
pub enum Matrix<'a> {
    Stored {
        dtype: DType,
        bytes: &'a [u8],
        row_bytes: usize,
    },
    Dense(&'a [f32]),
}

impl<'a> Matrix<'a> {
    pub fn stored(w: &WeightData<'a>, cols: usize) -> Result<Matrix<'a>, CpuError> {
        let row_bytes = w
            .dtype
            .row_bytes(cols as u64)
            .ok_or_else(|| CpuError(format!("a row of {cols} elements is not whole {} blocks", w.dtype)))?;
        Ok(Matrix::Stored {
            dtype: w.dtype,
            bytes: w.bytes,
            row_bytes: row_bytes as usize,
        })
    }

    /// Row `i` (of `out.len()` columns) as f32.
    pub fn row(&self, i: usize, out: &mut [f32]) -> Result<(), CpuError> {
        match self {
            Matrix::Stored {
                dtype,
                bytes,
                row_bytes,
            } => {
                let start = i * row_bytes;
                let bytes = bytes
                    .get(start..start + row_bytes)
                    .ok_or_else(|| CpuError(format!("row {i} is past the end of the weight data")))?;
                quant::dequantize_row(*dtype, bytes, out).map_err(|e| CpuError(e.to_string()))
            }
            Matrix::Dense(d) => {
                let n = out.len();
                let src = d
                    .get(i * n..(i + 1) * n)
                    .ok_or_else(|| CpuError(format!("row {i} is past the end of the matrix")))?;
                out.copy_from_slice(src);
                Ok(())
            }
        }
    }
}

/// f32 dot product with eight partial sums, so the loop vectorises; the order is fixed, so the
/// result depends only on the two rows, never on the batch around them.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    let s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    s + tail
}
