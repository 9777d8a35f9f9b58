//! The whole problem as one flat vector, for rules that re-evaluate the loss (LBFGS).

use crate::float::Float;
use crate::isa::Isa;
use crate::param::{Param, as_slice, as_slice_mut};

/// The parameters of an optimizer's group seen as one flat vector `x` (each parameter
/// flattened row-major, in group order, as torch's LBFGS sees them), and the closure that
/// evaluates the loss at the current parameters.
///
/// No lock is held while the closure runs: it reads values and writes gradients as it
/// likes. Every method here takes each parameter's lock once, briefly. Every flat slice
/// passed in must have exactly [`len`](Problem::len) elements; anything else is a bug in
/// the rule and panics, rather than moving part of the parameters.
pub struct Problem<'a, A: Float> {
    params: &'a [Param<A>],
    closure: &'a mut dyn FnMut() -> f64,
    len: usize,
    isa: Isa,
}

impl<'a, A: Float> Problem<'a, A> {
    /// The problem over `params`, evaluated by `closure`, whose loops run with `isa`. The
    /// optimizer builds it; tests of a closure rule can build one too.
    pub fn new(params: &'a [Param<A>], closure: &'a mut dyn FnMut() -> f64, isa: Isa) -> Self {
        let len = params.iter().map(Param::numel).sum();
        Problem {
            params,
            closure,
            len,
            isa,
        }
    }

    /// The length of the flat vector.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the problem has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The instruction set the optimizer runs with: a rule runs its loops through
    /// [`Isa::run`] with it (see [`Kernel`](crate::isa::Kernel)).
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Calls the closure (which recomputes the loss and writes the gradients) and gathers
    /// the gradients into `grad` (a parameter without a gradient counts as zeros, as in
    /// torch). Returns the loss.
    pub fn evaluate(&mut self, grad: &mut [A]) -> f64 {
        let loss = (self.closure)();
        self.gather_grad(grad);
        loss
    }

    /// Copies the current gradients into `out` (zeros for a parameter without one).
    pub fn gather_grad(&self, out: &mut [A]) {
        for (p, chunk) in self.chunks_mut(out) {
            match p.grad_lock().as_ref() {
                Some(g) => chunk.copy_from_slice(as_slice(g)),
                None => chunk.fill(A::zero()),
            }
        }
    }

    /// `x += alpha * dir`, with `alpha` rounded to `A` once (torch's `p.add_(d, alpha=t)`).
    pub fn add_scaled(&mut self, alpha: f64, dir: &[A]) {
        let alpha = A::from_f64(alpha);
        for (p, d) in self.chunks(dir) {
            let mut value = p.value_lock();
            as_slice_mut(&mut value)
                .iter_mut()
                .zip(d)
                .for_each(|(x, &d)| *x += alpha * d);
        }
    }

    /// Copies the parameters into `out`.
    pub fn read_params(&self, out: &mut [A]) {
        for (p, chunk) in self.chunks_mut(out) {
            chunk.copy_from_slice(as_slice(&p.value_read_lock()));
        }
    }

    /// Sets the parameters from `x`.
    pub fn write_params(&mut self, x: &[A]) {
        for (p, chunk) in self.chunks(x) {
            as_slice_mut(&mut p.value_lock()).copy_from_slice(chunk);
        }
    }

    /// Each parameter with its chunk of `flat`.
    fn chunks<'s, 'f>(&'s self, flat: &'f [A]) -> impl Iterator<Item = (&'s Param<A>, &'f [A])> {
        self.check_len(flat.len());
        let mut rest = flat;
        self.params.iter().map(move |p| {
            let (chunk, tail) = rest.split_at(p.numel());
            rest = tail;
            (p, chunk)
        })
    }

    /// Each parameter with its chunk of `flat`, mutable.
    fn chunks_mut<'s, 'f>(&'s self, flat: &'f mut [A]) -> impl Iterator<Item = (&'s Param<A>, &'f mut [A])> {
        self.check_len(flat.len());
        let mut rest = flat;
        self.params.iter().map(move |p| {
            let (chunk, tail) = std::mem::take(&mut rest).split_at_mut(p.numel());
            rest = tail;
            (p, chunk)
        })
    }

    fn check_len(&self, len: usize) {
        assert_eq!(
            len, self.len,
            "a flat vector of the problem has one element per scalar parameter"
        );
    }
}
