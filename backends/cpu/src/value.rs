//! Values during execution and their conversions: computed tensors, weights kept in their
//! stored form, and host tensors in and out of the backend.

use std::sync::Arc;

use lingot_ir::exec::{HostTensor, WeightData};

use crate::tensor::{Matrix, Tensor};
use crate::CpuError;

/// A value during execution: computed, or a weight that stays in its stored form.
#[derive(Clone)]
pub enum Val<'w> {
    T(Tensor),
    W(WeightData<'w>),
}

pub fn i32_of(v: &Val) -> Result<(Vec<usize>, Arc<Vec<i32>>), CpuError> {
    match v {
        Val::T(Tensor::I32 { shape, data }) => Ok((shape.clone(), data.clone())),
        _ => Err(CpuError("expected an i32 operand".into())),
    }
}

pub fn matrix<'a>(v: &'a Val, shape: &[usize], dense: &'a Option<Arc<Vec<f32>>>) -> Result<Matrix<'a>, CpuError> {
    match (v, dense) {
        (Val::W(w), _) => Matrix::stored(w, *shape.last().unwrap_or(&0)),
        (_, Some(d)) => Ok(Matrix::Dense(d)),
        _ => Err(CpuError("expected a matrix operand".into())),
    }
}

pub fn shape_of(v: &Val) -> Vec<usize> {
    match v {
        Val::T(t) => t.shape().to_vec(),
        Val::W(w) => w.shape.to_vec(),
    }
}

pub fn to_host(t: &Tensor) -> HostTensor {
    match t {
        Tensor::F32 { shape, data } => HostTensor::F32 {
            shape: shape.clone(),
            data: data.to_vec(),
        },
        Tensor::I32 { shape, data } => HostTensor::I32 {
            shape: shape.clone(),
            data: data.to_vec(),
        },
    }
}

pub fn from_host(h: &HostTensor) -> Tensor {
    match h {
        HostTensor::F32 { shape, data } => Tensor::f32(shape.clone(), data.clone()),
        HostTensor::I32 { shape, data } => Tensor::i32(shape.clone(), data.clone()),
    }
}
