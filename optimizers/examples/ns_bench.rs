//! Times Muon's Newton–Schulz orthogonalisation (5 steps, torch's default coefficients) on
//! random f32 matrices on one thread, and prints one JSON line per shape, with the same
//! fields as `optimizers/benches/torch_muon.py` prints for torch.
//!
//! ```sh
//! cargo run --release -p optimizers --example ns_bench
//! cargo run --release -p optimizers --example ns_bench -- --shape 1024x4096 --runs 9
//! ```
//!
//! `--shape RxC[,RxC...]` (default `1024x1024,1024x4096`), `--runs` timed calls per shape
//! (default 5, after one warm-up call). `ms` is the median call, `ms_min` the fastest;
//! `gflops` counts `2·m·n·k` for each of the three products of a step (`x xᵀ`, `G G`,
//! `B x`, with `m <= n` the wide orientation) over the median, so it is the same figure of
//! work whatever the implementation skips.
//!
//! A last line, `"what":"fma_peak"`, measures this core's f32 multiply-add bound in the same
//! run (twelve independent 8-lane FMA chains, AVX2 + FMA): the ceiling of any f32 GEMM here,
//! and so of an emulation of bfloat16 products on a CPU without bfloat16 instructions.

use std::time::Instant;

use optim_tests::rng::SplitMix64;
use optimizers::ndarray::Array2;
use optimizers::newton_schulz::{NewtonSchulz, NsScratch};

fn parse_args() -> Result<(Vec<(usize, usize)>, usize), String> {
    let (mut shapes, mut runs) = (vec![(1024, 1024), (1024, 4096)], 5);
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--shape" => {
                shapes = value
                    .split(',')
                    .map(|s| {
                        let (r, c) = s.split_once('x').ok_or_else(|| format!("shape `{s}` is not RxC"))?;
                        Ok((
                            r.parse().map_err(|e| format!("{s}: {e}"))?,
                            c.parse().map_err(|e| format!("{s}: {e}"))?,
                        ))
                    })
                    .collect::<Result<_, String>>()?
            }
            "--runs" => runs = value.parse().map_err(|e| format!("--runs {value}: {e}"))?,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok((shapes, runs.max(1)))
}

fn main() -> Result<(), String> {
    let (shapes, runs) = parse_args()?;
    let ns = NewtonSchulz::default();
    let mut rng = SplitMix64::new(0x5EED);
    for (rows, cols) in shapes {
        // Gradient-like entries: N(0, 1) would do as well; the work does not depend on them.
        let u = Array2::from_shape_simple_fn((rows, cols), || rng.range(-1.0, 1.0) as f32);
        let mut out = Array2::<f32>::zeros((rows, cols));
        let mut scratch = NsScratch::for_shape(rows, cols);
        ns.orthogonalize(u.view(), out.view_mut(), &mut scratch)
            .map_err(|e| e.to_string())?;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let start = Instant::now();
            ns.orthogonalize(u.view(), out.view_mut(), &mut scratch)
                .map_err(|e| e.to_string())?;
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        let (m, n) = (rows.min(cols) as f64, rows.max(cols) as f64);
        let flops = ns.steps as f64 * (2.0 * m * m * n + 2.0 * m * m * m + 2.0 * m * m * n);
        println!(
            "{{\"impl\":\"optim\",\"what\":\"ns\",\"shape\":[{rows},{cols}],\"ms\":{median:.1},\"ms_min\":{:.1},\"runs\":{runs},\"gflops\":{:.2}}}",
            times[0],
            flops / (median * 1e-3) / 1e9
        );
    }
    if let Some(gflops) = fma_peak_gflops() {
        println!("{{\"impl\":\"optim\",\"what\":\"fma_peak\",\"gflops\":{gflops:.2}}}");
    }
    Ok(())
}

/// The best of five half-second runs of twelve independent chains of 8-lane f32 FMAs: two
/// FMA units with a latency of four cycles need eight chains in flight to stay busy.
#[cfg(target_arch = "x86_64")]
fn fma_peak_gflops() -> Option<f64> {
    use std::arch::x86_64::{__m256, _mm256_fmadd_ps, _mm256_set1_ps};

    #[target_feature(enable = "avx2,fma")]
    fn chains(rounds: u64) -> [__m256; 12] {
        let (a, b) = (_mm256_set1_ps(0.999), _mm256_set1_ps(1e-3));
        let mut acc = [_mm256_set1_ps(1.0); 12];
        for _ in 0..rounds {
            for _ in 0..100 {
                for r in &mut acc {
                    *r = _mm256_fmadd_ps(*r, a, b);
                }
            }
            // Keeps the compiler from collapsing the loop; costs one spill per 1200 FMAs.
            acc = std::hint::black_box(acc);
        }
        acc
    }

    if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
        return None;
    }
    let rounds = 400_000;
    let best = (0..5)
        .map(|_| {
            let start = Instant::now();
            // SAFETY: AVX2 and FMA were detected above.
            std::hint::black_box(unsafe { chains(rounds) });
            start.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min);
    Some((rounds * 100 * 12 * 16) as f64 / best / 1e9)
}

#[cfg(not(target_arch = "x86_64"))]
fn fma_peak_gflops() -> Option<f64> {
    None
}
