//! The loss functions of the PyTorch reference fixtures (`shared/fixtures/torch/README.md`,
//! section "Problems"), over `f32` or `f64`: float32 fixtures were evaluated by torch in
//! float32, so they are evaluated here in `f32` too. Every `eval` writes the whole
//! gradient and returns the loss; none allocates.

use optimizers::Float;

/// `f(x) = Σᵢ₌₀ⁿ⁻² [100 (x[i+1] − x[i]²)² + (1 − x[i])²]`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Rosenbrock;

impl Rosenbrock {
    /// Loss at `x`; the gradient goes to `grad` (same length).
    pub fn eval<T: Float>(&self, x: &[T], grad: &mut [T]) -> T {
        let c100 = T::from_f64(100.0);
        let c200 = T::from_f64(200.0);
        let c400 = T::from_f64(400.0);
        let two = T::from_f64(2.0);
        grad.fill(T::zero());
        let mut f = T::zero();
        for i in 0..x.len().saturating_sub(1) {
            let a = x[i + 1] - x[i] * x[i];
            let b = T::one() - x[i];
            f = f + c100 * a * a + b * b;
            grad[i] = grad[i] - c400 * x[i] * a - two * b;
            grad[i + 1] += c200 * a;
        }
        f
    }

    /// The classic start: `-1.2, 1, -1.2, 1, ...`.
    pub fn start<T: Float>(n: usize) -> Vec<T> {
        (0..n)
            .map(|i| T::from_f64(if i % 2 == 0 { -1.2 } else { 1.0 }))
            .collect()
    }
}

/// `f(x) = ½ xᵀAx − bᵀx` with `A` (`n × n`, row-major) symmetric positive definite.
#[derive(Clone, Debug, PartialEq)]
pub struct Quadratic<T> {
    /// The dimension.
    pub n: usize,
    /// `A`, row-major (`n · n`).
    pub a: Vec<T>,
    /// `b`.
    pub b: Vec<T>,
}

impl<T: Float> Quadratic<T> {
    /// Loss at `x`; the gradient `Ax − b` goes to `grad`.
    pub fn eval(&self, x: &[T], grad: &mut [T]) -> T {
        let mut quad = T::zero();
        let mut lin = T::zero();
        for i in 0..self.n {
            let row = &self.a[i * self.n..(i + 1) * self.n];
            let mut ax = T::zero();
            for (&aij, &xj) in row.iter().zip(x) {
                ax += aij * xj;
            }
            quad += x[i] * ax;
            lin += self.b[i] * x[i];
            grad[i] = ax - self.b[i];
        }
        T::from_f64(0.5) * quad - lin
    }
}

/// Mean binary cross-entropy with logits plus `½ · l2 · |w|²`; parameters `[w (d), bias]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Logistic<T> {
    /// Number of rows.
    pub n: usize,
    /// Number of features.
    pub d: usize,
    /// Features, row-major (`n · d`).
    pub x: Vec<T>,
    /// Labels, 0 or 1.
    pub y: Vec<T>,
    /// L2 penalty on `w` (not on the bias).
    pub l2: T,
}

impl<T: Float> Logistic<T> {
    /// Loss at `params = [w, bias]`; the gradient goes to `grad` (`d + 1`).
    pub fn eval(&self, params: &[T], grad: &mut [T]) -> T {
        let (w, bias) = (&params[..self.d], params[self.d]);
        let n = T::from_f64(self.n as f64);
        grad.fill(T::zero());
        let mut total = T::zero();
        for i in 0..self.n {
            let row = &self.x[i * self.d..(i + 1) * self.d];
            let mut z = bias;
            for (&xij, &wj) in row.iter().zip(w) {
                z += xij * wj;
            }
            let yi = self.y[i];
            total = total + z.max(T::zero()) - yi * z + (-z.abs()).exp().ln_1p();
            let sigmoid = T::one() / (T::one() + (-z).exp());
            let r = (sigmoid - yi) / n;
            for (g, &xij) in grad[..self.d].iter_mut().zip(row) {
                *g += xij * r;
            }
            grad[self.d] += r;
        }
        let mut reg = T::zero();
        for (g, &wj) in grad[..self.d].iter_mut().zip(w) {
            *g += self.l2 * wj;
            reg += wj * wj;
        }
        total / n + T::from_f64(0.5) * self.l2 * reg
    }
}

/// One of the fixture problems.
#[derive(Clone, Debug, PartialEq)]
pub enum Problem<T> {
    /// Rosenbrock's banana function.
    Rosenbrock(Rosenbrock),
    /// A convex quadratic.
    Quadratic(Quadratic<T>),
    /// L2-regularised logistic regression.
    Logistic(Logistic<T>),
}

impl<T: Float> Problem<T> {
    /// Loss at `x`; the gradient goes to `grad` (same length as `x`).
    pub fn eval(&self, x: &[T], grad: &mut [T]) -> T {
        match self {
            Problem::Rosenbrock(p) => p.eval(x, grad),
            Problem::Quadratic(p) => p.eval(x, grad),
            Problem::Logistic(p) => p.eval(x, grad),
        }
    }

    /// The same problem with its data rounded to `U` (exact for the float32 fixtures, whose
    /// data are float32 values).
    pub fn cast<U: Float>(&self) -> Problem<U> {
        let v = |xs: &[T]| xs.iter().map(|&x| U::from_f64(x.as_f64())).collect::<Vec<U>>();
        match self {
            Problem::Rosenbrock(r) => Problem::Rosenbrock(*r),
            Problem::Quadratic(q) => Problem::Quadratic(Quadratic {
                n: q.n,
                a: v(&q.a),
                b: v(&q.b),
            }),
            Problem::Logistic(l) => Problem::Logistic(Logistic {
                n: l.n,
                d: l.d,
                x: v(&l.x),
                y: v(&l.y),
                l2: U::from_f64(l.l2.as_f64()),
            }),
        }
    }

    /// The number of parameters the problem expects, if it fixes one (Rosenbrock does not).
    pub fn expected_len(&self) -> Option<usize> {
        match self {
            Problem::Rosenbrock(_) => None,
            Problem::Quadratic(p) => Some(p.n),
            Problem::Logistic(p) => Some(p.d + 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Central differences of `f` at `x`.
    fn numeric_grad(f: impl Fn(&[f64]) -> f64, x: &[f64]) -> Vec<f64> {
        let h = 1e-6;
        (0..x.len())
            .map(|i| {
                let (mut xp, mut xm) = (x.to_vec(), x.to_vec());
                xp[i] += h;
                xm[i] -= h;
                (f(&xp) - f(&xm)) / (2.0 * h)
            })
            .collect()
    }

    fn check(eval: impl Fn(&[f64], &mut [f64]) -> f64, x: &[f64]) {
        let mut g = vec![f64::NAN; x.len()];
        eval(x, &mut g);
        let num = numeric_grad(|x| eval(x, &mut vec![0.0; x.len()]), x);
        for (a, b) in g.iter().zip(&num) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{g:?} vs {num:?}");
        }
    }

    #[test]
    fn gradients_match_finite_differences() {
        check(|x, g| Rosenbrock.eval(x, g), &[-1.2, 1.0, 0.3, -0.7]);
        assert_eq!(Rosenbrock.eval(&[1.0, 1.0, 1.0], &mut [0.0; 3]), 0.0);
        let q = Quadratic {
            n: 2,
            a: vec![2.0, 0.5, 0.5, 1.0],
            b: vec![1.0, -1.0],
        };
        check(|x, g| q.eval(x, g), &[0.3, -0.2]);
        let l = Logistic {
            n: 3,
            d: 2,
            x: vec![1.0, 2.0, -0.5, 0.3, 0.0, -1.0],
            y: vec![1.0, 0.0, 1.0],
            l2: 0.1,
        };
        check(|x, g| l.eval(x, g), &[0.2, -0.4, 0.1]);
        let f = l.eval(&[0.0, 0.0, 0.0], &mut [0.0; 3]);
        assert!((f - std::f64::consts::LN_2).abs() < 1e-15, "ln 2 at zero");
    }
}
