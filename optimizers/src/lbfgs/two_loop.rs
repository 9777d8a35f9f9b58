//! The L-BFGS two-loop recursion (torch's version, collapsed to one buffer).

use optim_core::Float;

use super::ops::{axpy_dot, axpy_scale_dot, neg_dot, scale_dot};
use super::ring::Ring;
use super::state::CurvaturePair;

/// The curvature pairs an iteration uses: the stored history, plus (when this iteration
/// accepted a new pair that is not committed yet) the `pending` pair as the newest, with
/// the oldest stored pair left out if the history is full (the commit will evict it).
/// The pair is committed only when the iteration completes, so that a non-finite
/// evaluation in its line search leaves the history as it was.
pub(crate) struct HistoryView<'a, A> {
    pub stored: &'a Ring<CurvaturePair<A>>,
    pub pending: Option<&'a CurvaturePair<A>>,
}

impl<'a, A> HistoryView<'a, A> {
    fn skip(&self) -> usize {
        usize::from(self.pending.is_some() && self.stored.is_full())
    }

    /// The number of pairs (torch's `num_old`).
    pub fn len(&self) -> usize {
        self.stored.len().saturating_sub(self.skip()) + usize::from(self.pending.is_some())
    }

    /// The pairs, oldest → newest (double-ended).
    pub fn pairs(&self) -> impl DoubleEndedIterator<Item = &'a CurvaturePair<A>> + 'a {
        self.stored.iter().skip(self.skip()).chain(self.pending)
    }
}

/// Computes the L-BFGS direction `d = −H g` into `dir` (torch's `q`, then `r`), writing the
/// first loop's coefficients into `al[..num_old]`, and returns the directional derivative
/// `g · d` (computed in the last pass, as [`dot`](super::ops::dot)`(grad, dir)` would).
///
/// `al` must have at least `history.len()` slots (pairs beyond are ignored).
///
/// This is most of an iteration's work (two passes over every stored pair); it is inlined
/// into the step, which runs compiled for the optimizer's instruction set (see
/// [`direction_portable`] for why every set gives the same bits).
#[inline(always)]
pub(crate) fn direction<A: Float>(
    history: &HistoryView<'_, A>,
    grad: &[A],
    h_diag: f64,
    al: &mut [Option<f64>],
    dir: &mut [A],
) -> f64 {
    direction_portable(history, grad, h_diag, al, dir)
}

/// The two-loop recursion, for any instruction set. Only the instructions differ between
/// sets: Rust never fuses a multiplication and an addition into one rounding, vector
/// instructions round each lane as the scalar ones do, and the order of every sum is
/// spelled out in the source (see [`dot`](super::ops::dot)); so the results are
/// bit-identical.
///
/// Torch's recursion alternates a dot product and an update over the whole vector; here
/// each update is fused with the dot product that follows it (the next pair's, and after
/// the last update `g · d`), which halves the passes over memory and computes the same
/// numbers in the same order.
#[inline(always)]
fn direction_portable<A: Float>(
    history: &HistoryView<'_, A>,
    grad: &[A],
    h_diag: f64,
    al: &mut [Option<f64>],
    dir: &mut [A],
) -> f64 {
    let num_old = history.len().min(al.len());
    let al = &mut al[..num_old];
    // the pair the second loop starts with, whose `y` the first dot product after the
    // scaling by H_diag takes (`g` itself when there is none)
    let second_first = history.pairs().zip(al.iter()).next().map(|(pair, _)| pair);
    let after_scaling: &[A] = second_first.map_or(grad, |pair| &pair.y);

    // q = -g; then newest -> oldest: al[i] = (s_i . q) * ro_i ; q -= al[i] * y_i
    let mut pairs = history.pairs().rev().zip(al.iter_mut().rev());
    let mut current = pairs.next();
    let mut s_dot_q = match &current {
        Some((pair, _)) => neg_dot(dir, grad, &pair.s),
        None => {
            dir.iter_mut().zip(grad).for_each(|(q, &g)| *q = -g);
            0.0
        }
    };
    // the first loop's last update, done in the same pass as the scaling
    let mut last_update = None;
    while let Some((pair, slot)) = current {
        let a = s_dot_q * pair.ro;
        *slot = Some(a);
        current = pairs.next();
        s_dot_q = match &current {
            Some((next, _)) => axpy_dot(dir, -a, &pair.y, &next.s),
            None => {
                last_update = Some((-a, pair.y.as_slice()));
                0.0
            }
        };
    }

    // r = q * H_diag; then oldest -> newest: be_i = (y_i . r) * ro_i ; r += (al[i] - be_i) * s_i
    // (the dot product after the last update is g · d)
    let mut next_dot = match last_update {
        Some((alpha, y)) => axpy_scale_dot(dir, alpha, y, h_diag, after_scaling),
        None => scale_dot(dir, h_diag, after_scaling),
    };
    let mut pairs = history.pairs().zip(al.iter());
    let mut current = pairs.next();
    while let Some((pair, slot)) = current {
        let be_i = next_dot * pair.ro;
        let coef = slot.unwrap_or(0.0) - be_i;
        current = pairs.next();
        next_dot = match &current {
            Some((next, _)) => axpy_dot(dir, coef, &pair.s, &next.y),
            None => axpy_dot(dir, coef, &pair.s, grad),
        };
    }
    next_dot
}

#[cfg(test)]
mod tests {
    use super::super::ops::dot;
    use super::super::ops::tests::noise;
    use super::*;

    fn pair(y: &[f64], s: &[f64]) -> CurvaturePair<f64> {
        let ys: f64 = y.iter().zip(s).map(|(a, b)| a * b).sum();
        CurvaturePair {
            y: y.to_vec(),
            s: s.to_vec(),
            ro: 1.0 / ys,
        }
    }

    /// Reference: the textbook recursion on an explicit oldest-first list, one operation per
    /// pass (with the crate's dot product, whose order of summation is part of the result).
    #[allow(clippy::needless_range_loop)]
    fn reference(pairs: &[CurvaturePair<f64>], g: &[f64], h: f64) -> (Vec<f64>, Vec<f64>) {
        let mut q: Vec<f64> = g.iter().map(|v| -v).collect();
        let mut al = vec![0.0; pairs.len()];
        for i in (0..pairs.len()).rev() {
            al[i] = dot(&pairs[i].s, &q) * pairs[i].ro;
            for j in 0..q.len() {
                q[j] += -al[i] * pairs[i].y[j];
            }
        }
        let mut r: Vec<f64> = q.iter().map(|v| v * h).collect();
        for i in 0..pairs.len() {
            let be = dot(&pairs[i].y, &r) * pairs[i].ro;
            for j in 0..r.len() {
                r[j] += (al[i] - be) * pairs[i].s[j];
            }
        }
        (r, al)
    }

    #[test]
    fn pending_pair_replaces_oldest_when_full() {
        let p = [
            pair(&[1.0, 0.5], &[0.7, 0.1]),
            pair(&[0.2, 1.5], &[0.3, 0.9]),
            pair(&[1.1, -0.4], &[0.6, -0.2]),
        ];
        let g = [0.3, -1.2];
        let mut ring = Ring::with_capacity(2);
        ring.push(p[0].clone());
        ring.push(p[1].clone());
        let view = HistoryView {
            stored: &ring,
            pending: Some(&p[2]),
        };
        assert_eq!(view.len(), 2);
        let mut al = vec![None; 2];
        let mut dir = [0.0; 2];
        direction(&view, &g, 0.8, &mut al, &mut dir);
        let (r, al_ref) = reference(&p[1..], &g, 0.8);
        assert_eq!(dir.to_vec(), r);
        assert_eq!(al, al_ref.into_iter().map(Some).collect::<Vec<_>>());

        // not full: the pending pair is simply appended
        let mut ring = Ring::with_capacity(5);
        ring.push(p[0].clone());
        ring.push(p[1].clone());
        let view = HistoryView {
            stored: &ring,
            pending: Some(&p[2]),
        };
        assert_eq!(view.len(), 3);
        let mut al = vec![None; 5];
        direction(&view, &g, 0.8, &mut al, &mut dir);
        let (r, al_ref) = reference(&p, &g, 0.8);
        assert_eq!(dir.to_vec(), r);
        assert_eq!(&al[..3], al_ref.into_iter().map(Some).collect::<Vec<_>>());
        assert_eq!(&al[3..], [None, None]);

        // no pending pair, empty history: d = -H_diag g
        let ring = Ring::with_capacity(5);
        let view = HistoryView {
            stored: &ring,
            pending: None,
        };
        direction(&view, &g, 0.5, &mut al, &mut dir);
        assert_eq!(dir, [-0.15, 0.6]);
    }

    fn same_bits_everywhere<A: Float>() {
        for n in [1, 7, 8, 9, 100, 1003] {
            let mut ring = Ring::with_capacity(4);
            for k in 0..6 {
                let y: Vec<A> = noise(2 * k, n).into_iter().map(A::from_f64).collect();
                let s: Vec<A> = noise(2 * k + 1, n).into_iter().map(A::from_f64).collect();
                ring.push(CurvaturePair {
                    y,
                    s,
                    ro: 0.3 + k as f64,
                });
            }
            let view = HistoryView {
                stored: &ring,
                pending: None,
            };
            let g: Vec<A> = noise(99, n).into_iter().map(A::from_f64).collect();
            let (mut al1, mut al2) = (vec![None; 4], vec![None; 4]);
            let (mut d1, mut d2) = (vec![A::zero(); n], vec![A::zero(); n]);
            let gtd1 = direction(&view, &g, 0.7, &mut al1, &mut d1);
            let gtd2 = direction_portable(&view, &g, 0.7, &mut al2, &mut d2);
            assert_eq!(gtd1.to_bits(), gtd2.to_bits());
            assert_eq!(gtd1.to_bits(), dot(&g, &d1).to_bits(), "g · d as `dot` computes it");
            let bits = |v: &[A]| v.iter().map(|x| x.as_f64().to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&d1), bits(&d2), "n = {n}");
            assert_eq!(al1, al2, "n = {n}");
        }
    }

    #[test]
    fn every_instruction_set_gives_the_same_bits() {
        same_bits_everywhere::<f64>();
        same_bits_everywhere::<f32>();
    }

    #[test]
    fn wrapped_ring_is_read_oldest_first() {
        // A ring that has wrapped (head != 0) must give the same direction as the list.
        let p: Vec<CurvaturePair<f64>> = (0..5)
            .map(|k| {
                let k = k as f64;
                pair(&[1.0 + k, 0.5 - 0.1 * k, 0.2], &[0.3, 0.4 + 0.05 * k, 1.0 - 0.1 * k])
            })
            .collect();
        let mut ring = Ring::with_capacity(3);
        for q in &p {
            ring.push(q.clone());
        }
        let view = HistoryView {
            stored: &ring,
            pending: None,
        };
        let g = [0.7, -0.2, 0.4];
        let mut al = vec![None; 3];
        let mut dir = [0.0; 3];
        direction(&view, &g, 1.3, &mut al, &mut dir);
        let (r, al_ref) = reference(&p[2..], &g, 1.3);
        assert_eq!(dir.to_vec(), r);
        assert_eq!(al, al_ref.into_iter().map(Some).collect::<Vec<_>>());
    }
}
