//! Helpers shared by the `lbfgs_*` integration tests: parameters built from flat values,
//! and a closure body that evaluates a flat-vector problem through `Param` without
//! allocating (as a user's closure would, reading values and writing gradients).

#![allow(dead_code)] // each test binary uses a different part

use optimizers::ndarray::{ArrayD, IxDyn};
use optimizers::{Float, Param};

/// Parameters of the given shapes, filled from `x` in order.
pub fn params_from<A: Float>(shapes: &[&[usize]], x: &[A]) -> Vec<Param<A>> {
    let mut offset = 0;
    shapes
        .iter()
        .map(|shape| {
            let n: usize = shape.iter().product();
            let value = ArrayD::from_shape_vec(IxDyn(shape), x[offset..offset + n].to_vec()).expect("sizes add up");
            offset += n;
            Param::new(value)
        })
        .collect()
}

/// Fresh parameters with the same shapes and values (another model, the same numbers).
pub fn copies<A: Float>(params: &[Param<A>]) -> Vec<Param<A>> {
    params.iter().map(|p| Param::new(p.to_array())).collect()
}

/// The parameters' values, concatenated.
pub fn flat_values<A: Float>(params: &[Param<A>]) -> Vec<A> {
    params
        .iter()
        .flat_map(|p| p.value().iter().copied().collect::<Vec<_>>())
        .collect()
}

/// The bits of each value, for exact comparisons.
pub fn bits<A: Float>(v: &[A]) -> Vec<u64> {
    v.iter().map(|x| x.as_f64().to_bits()).collect()
}

/// Evaluates a flat-vector problem at the parameters' current values and writes its
/// gradient into them, with buffers allocated once.
pub struct Flat<A: Float> {
    params: Vec<Param<A>>,
    x: Vec<A>,
    g: Vec<A>,
}

impl<A: Float> Flat<A> {
    /// Buffers for these parameters (clones of the handles the optimizer holds).
    pub fn new(params: &[Param<A>]) -> Self {
        let n = params.iter().map(Param::numel).sum();
        Flat {
            params: params.to_vec(),
            x: vec![A::zero(); n],
            g: vec![A::zero(); n],
        }
    }

    /// Reads the values, calls `f(x, grad) -> loss`, writes the gradients; returns the loss.
    pub fn eval(&mut self, mut f: impl FnMut(&[A], &mut [A]) -> A) -> f64 {
        let mut offset = 0;
        for p in &self.params {
            let v = p.value();
            let n = p.numel();
            self.x[offset..offset + n].copy_from_slice(v.as_slice().expect("parameters are contiguous"));
            offset += n;
        }
        let loss = f(&self.x, &mut self.g);
        let mut offset = 0;
        for p in &self.params {
            let n = p.numel();
            p.set_grad_from_slice(&self.g[offset..offset + n])
                .expect("lengths match");
            offset += n;
        }
        loss.as_f64()
    }
}
