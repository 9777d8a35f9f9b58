//! The whole problem as one flat vector, for rules that re-evaluate the loss (LBFGS).

use crate::float::Float;
use crate::param::Param;

/// The parameters of an optimizer's group seen as one flat vector `x` (each parameter
/// flattened row-major, in group order, as torch's LBFGS sees them), and the closure that
/// evaluates the loss at the current parameters.
///
/// No lock is held while the closure runs: it reads values and writes gradients as it
/// likes. Every method here takes each parameter's lock once, briefly.
pub struct Problem<'a, A: Float> {
    params: &'a [Param<A>],
    closure: &'a mut dyn FnMut() -> f64,
    len: usize,
}

impl<'a, A: Float> Problem<'a, A> {
    /// The problem over `params`, evaluated by `closure`.
    pub fn new(params: &'a [Param<A>], closure: &'a mut dyn FnMut() -> f64) -> Self {
        let len = params.iter().map(Param::numel).sum();
        Problem { params, closure, len }
    }

    /// The length of the flat vector.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the problem has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Calls the closure (which recomputes the loss and writes the gradients) and gathers
    /// the gradients into `grad` (`len()` elements; a parameter without a gradient counts
    /// as zeros, as in torch). Returns the loss.
    pub fn evaluate(&mut self, grad: &mut [A]) -> f64 {
        let loss = (self.closure)();
        self.gather_grad(grad);
        loss
    }

    /// Copies the current gradients into `out` (zeros for a parameter without one).
    pub fn gather_grad(&self, out: &mut [A]) {
        self.for_each_chunk(out, |p, chunk| {
            match p.grad_lock().as_ref().and_then(|g| g.as_slice()) {
                Some(g) => chunk.copy_from_slice(g),
                None => chunk.fill(A::zero()),
            }
        });
    }

    /// `x += alpha * dir`, with `alpha` rounded to `A` once (torch's `p.add_(d, alpha=t)`).
    pub fn add_scaled(&mut self, alpha: f64, dir: &[A]) {
        let alpha = A::from_f64(alpha);
        self.for_each_chunk_ref(dir, |p, d| {
            let mut value = p.value_lock();
            if let Some(v) = value.as_slice_mut() {
                v.iter_mut().zip(d).for_each(|(x, &d)| *x += alpha * d);
            }
        });
    }

    /// Copies the parameters into `out`.
    pub fn read_params(&self, out: &mut [A]) {
        self.for_each_chunk(out, |p, chunk| {
            if let Some(v) = p.value().as_slice() {
                chunk.copy_from_slice(v);
            }
        });
    }

    /// Sets the parameters from `x`.
    pub fn write_params(&mut self, x: &[A]) {
        self.for_each_chunk_ref(x, |p, chunk| {
            if let Some(v) = p.value_lock().as_slice_mut() {
                v.copy_from_slice(chunk);
            }
        });
    }

    /// Calls `f` with each parameter and its chunk of `flat`. A `flat` of the wrong length
    /// is a bug in the rule: the chunks then stop at its end instead of panicking.
    fn for_each_chunk(&self, flat: &mut [A], mut f: impl FnMut(&Param<A>, &mut [A])) {
        let mut rest = flat;
        for p in self.params {
            if rest.len() < p.numel() {
                return;
            }
            let (chunk, tail) = rest.split_at_mut(p.numel());
            f(p, chunk);
            rest = tail;
        }
    }

    fn for_each_chunk_ref(&self, flat: &[A], mut f: impl FnMut(&Param<A>, &[A])) {
        let mut rest = flat;
        for p in self.params {
            if rest.len() < p.numel() {
                return;
            }
            let (chunk, tail) = rest.split_at(p.numel());
            f(p, chunk);
            rest = tail;
        }
    }
}
