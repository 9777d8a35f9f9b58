//! Times one optimizer step on the layouts of the performance issue and prints one JSON
//! line per configuration.
//!
//! ```sh
//! cargo run --release -p optimizers --example step_bench -- --opt adam --layout a --threads 1
//! cargo run --release -p optimizers --example step_bench -- --opt all --layout all --dtype all --threads 1,2
//! ```
//!
//! `--opt` sgd | sgdm | adam | adamw | lbfgs | adadelta | adafactor | adagrad | adamax |
//! asgd | nadam | radam | rmsprop | rprop | all (the last ten with torch's default options),
//! or muon (torch's defaults; not in `all`: it takes matrices only);
//! `--layout` a (1 x 16,777,216), b (256 x 65,536), c (65,536 x 256), s (1 x 262,144) | all,
//! or m (one 4096 x 4096 matrix: what Adafactor factors), q (one 1024 x 1024 matrix), w
//! (one 1024 x 4096 matrix); without `--layout`, a, and q,w for muon; `--dtype` f32 | f64 | all;
//! `--threads` a number or a comma-separated list; `--steps` timed steps (at least 11);
//! `--markdown` prints table rows instead of JSON lines; `--clip MAX_NORM` also times
//! `clip_grad_norm` over the same gradients (`clip_ms`, next to the step's `median_ms`).
//! Each configuration warms up, times every step and reports the median, next to two
//! references measured on the same machine in the same run: `stream_ms`, a pass with the
//! same memory traffic and no arithmetic (the memory bound), and for Adam on one thread
//! `plain_loop_ms`, a straightforward fused loop built for the default target. With
//! `--opt lbfgs` it runs the 1000-dimensional Rosenbrock problem (x0 = -1.2, 1, ...;
//! history 10; strong Wolfe; one `step` with max_iter 100) instead of a layout. With
//! `--opt muon` the line also has `ns_gflops`, the Newton–Schulz work of a step (`2·m·n·k`
//! for each of its three products per iteration, `m <= n`, as `examples/ns_bench.rs` and
//! `benches/torch_muon.py` count it) over the step's median: the step is compute-bound, so
//! `of_bound` says little for it.

use std::time::Instant;

use optim_tests::problems::Rosenbrock;
use optimizers::isa::{Isa, Kernel};
use optimizers::ndarray::ArrayD;
use optimizers::rayon;
use optimizers::{
    Adam, AdamOptions, AdamW, AdamWOptions, DynOptimizer, Float, Lbfgs, LbfgsOptions, LineSearch, Map, Param, Sgd,
    SgdOptions, registry,
};
use rayon::prelude::*;

struct Args {
    opts: Vec<String>,
    /// `None`: the default of each optimizer (see [`default_layouts`]).
    layouts: Option<Vec<char>>,
    dtypes: Vec<String>,
    threads: Vec<usize>,
    steps: usize,
    markdown: bool,
    /// `--clip MAX_NORM`: also time `clip_grad_norm` (Euclidean) over the same gradients.
    clip: Option<f64>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        opts: vec!["adam".into()],
        layouts: None,
        dtypes: vec!["f32".into()],
        threads: vec![1],
        steps: 21,
        markdown: false,
        clip: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--markdown" {
            args.markdown = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--opt" => {
                args.opts = match value.as_str() {
                    "all" => [
                        "sgd",
                        "sgdm",
                        "adam",
                        "adamw",
                        "lbfgs",
                        "adadelta",
                        "adafactor",
                        "adagrad",
                        "adamax",
                        "asgd",
                        "nadam",
                        "radam",
                        "rmsprop",
                        "rprop",
                    ]
                    .map(String::from)
                    .to_vec(),
                    v => v.split(',').map(String::from).collect(),
                }
            }
            "--layout" => {
                args.layouts = Some(match value.as_str() {
                    "all" => vec!['a', 'b', 'c', 's'],
                    v => v.split(',').filter_map(|l| l.chars().next()).collect(),
                })
            }
            "--dtype" => {
                args.dtypes = match value.as_str() {
                    "all" => vec!["f32".into(), "f64".into()],
                    v => v.split(',').map(String::from).collect(),
                }
            }
            "--threads" => {
                args.threads = value
                    .split(',')
                    .map(|t| t.parse().map_err(|e| format!("--threads: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--clip" => args.clip = Some(value.parse().map_err(|e| format!("--clip: {e}"))?),
            "--steps" => args.steps = value.parse::<usize>().map_err(|e| format!("--steps: {e}"))?.max(11),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(args)
}

/// (tensors, elements per tensor) of a layout.
fn layout(l: char) -> Result<(usize, usize), String> {
    match l {
        'a' => Ok((1, 16_777_216)),
        'b' => Ok((256, 65_536)),
        'c' => Ok((65_536, 256)),
        's' => Ok((1, 262_144)),
        // Not in the issue's list: one-element tensors, to isolate the per-tensor overhead.
        'o' => Ok((65_536, 1)),
        // One matrix, the case Adafactor factors (the others are vectors to it).
        'm' => Ok((1, 4096 * 4096)),
        // Muon's matrices, the shapes of `ns_bench` and `torch_muon.py`.
        'q' => Ok((1, 1024 * 1024)),
        'w' => Ok((1, 1024 * 4096)),
        other => Err(format!("unknown layout {other}")),
    }
}

/// The layouts run when `--layout` is not given.
fn default_layouts(opt: &str) -> Vec<char> {
    match opt {
        "muon" => vec!['q', 'w'],
        _ => vec!['a'],
    }
}

/// The shape of each tensor of a layout of `elems` elements per tensor.
fn tensor_shape(l: char, elems: usize) -> Vec<usize> {
    match l {
        'm' => vec![4096, elems / 4096],
        'q' | 'w' => vec![1024, elems / 1024],
        _ => vec![elems],
    }
}

/// The floating-point operations of one Newton–Schulz orthogonalisation of a `shape`
/// matrix with torch's 5 iterations, counted as `ns_bench` counts them; `None` for a
/// shape that is not a matrix.
fn ns_flops(shape: &[usize]) -> Option<f64> {
    let &[rows, cols] = shape else { return None };
    let (m, n) = (rows.min(cols) as f64, rows.max(cols) as f64);
    Some(5.0 * (2.0 * m * m * n + 2.0 * m * m * m + 2.0 * m * m * n))
}

/// Bytes each element of the parameter moves per step: reads of the parameter, gradient
/// and state, writes of the parameter and state. Adafactor reads a matrix's gradient three
/// times and its parameter twice (its state is a row and a column); a vector's gradient
/// and `variance` twice each.
fn bytes_per_elem<A: Float>(opt: &str, l: char) -> usize {
    let words = match (opt, l) {
        ("sgd", _) => 3,
        // Muon's element-wise passes: p, g and the buffer read, p and the buffer written.
        ("sgdm" | "adagrad" | "asgd" | "rmsprop" | "muon", _) => 5,
        ("adam" | "adamw" | "adadelta" | "adamax" | "nadam" | "radam" | "rprop", _) => 7,
        ("adafactor", 'm') => 6,
        ("adafactor", _) => 8,
        _ => 0,
    };
    words * size_of::<A>()
}

fn build<A: Float>(opt: &str, params: Vec<Param<A>>) -> Result<Box<dyn DynOptimizer<A>>, String> {
    let built: optimizers::Result<Box<dyn DynOptimizer<A>>> = match opt {
        "sgd" => Sgd::new(params, SgdOptions::new().lr(1e-3)).map(|o| Box::new(o) as _),
        "sgdm" => Sgd::new(params, SgdOptions::new().lr(1e-3).momentum(0.9)).map(|o| Box::new(o) as _),
        "adam" => Adam::new(params, AdamOptions::new()).map(|o| Box::new(o) as _),
        "adamw" => AdamW::new(params, AdamWOptions::new()).map(|o| Box::new(o) as _),
        // Any other optimizer the registry knows, with torch's default options.
        other => registry::build(other, vec![(params, Map::new())], &Map::new()),
    };
    built.map_err(|e| e.to_string())
}

/// Arrays with the memory traffic of one optimizer's step over `n` elements: the
/// parameter, the gradient and the state tensors.
struct Stream<A> {
    arrays: Vec<Vec<A>>,
}

impl<A: Float> Stream<A> {
    /// `words` per element: 3 (p, g → p), 5 (+ one state tensor) or 7 (+ two).
    fn new(words: usize, n: usize) -> Self {
        let count = 2 + words.saturating_sub(3) / 2; // p, g, and one per two more words
        Stream {
            arrays: (0..count)
                .map(|k| vec![A::from_f64(0.25 + k as f64 * 1e-3); n])
                .collect(),
        }
    }

    /// The memory bound: every array read, all but the gradient written, with an addition
    /// (no division, no square root). Compiled and dispatched as the steps are (a
    /// [`Kernel`] run with the best instruction set), on this thread when `threads` is 1,
    /// else chunked over the pool's threads as a parallel step is.
    fn stream(&mut self, threads: usize) {
        let isa = Isa::best();
        let (first, rest) = self.arrays.split_at_mut(2);
        let (p, g) = first.split_at_mut(1);
        let (p, g) = (&mut p[0][..], &g[0][..]);
        let (m, v) = match rest {
            [] => (None, None),
            [m] => (Some(&mut m[..]), None),
            [m, v, ..] => (Some(&mut m[..]), Some(&mut v[..])),
        };
        if threads <= 1 {
            return isa.run(StreamPass { p, g, m, v });
        }
        let chunk = optimizers::parallel::PARALLEL_CHUNK;
        let (ms, vs) = (pieces(m, p.len(), chunk), pieces(v, p.len(), chunk));
        p.par_chunks_mut(chunk)
            .zip(g.par_chunks(chunk))
            .zip(ms.into_par_iter().zip(vs))
            .for_each(|((p, g), (m, v))| isa.run(StreamPass { p, g, m, v }));
    }

    /// A straightforward fused Adam loop, compiled for the default target: what a plain
    /// implementation gets without runtime dispatch (single-threaded).
    fn plain_adam(&mut self) {
        let [p, g, m, v] = &mut self.arrays[..] else { return };
        let (b1, b2, c2, eps, ss) = (
            A::from_f64(0.1),
            A::from_f64(0.999),
            A::from_f64(0.03),
            A::from_f64(1e-8),
            A::from_f64(-1e-3),
        );
        let omb2 = A::one() - b2;
        for (((p, &g), m), v) in p.iter_mut().zip(g.iter()).zip(m.iter_mut()).zip(v.iter_mut()) {
            *m = *m + b1 * (g - *m);
            *v = *v * b2 + omb2 * g * g;
            *p += ss * *m / (v.sqrt() / c2 + eps);
        }
    }
}

/// `x` in chunks of `chunk` elements, or as many `None`s as `len` has chunks.
fn pieces<A>(x: Option<&mut [A]>, len: usize, chunk: usize) -> Vec<Option<&mut [A]>> {
    match x {
        Some(x) => x.chunks_mut(chunk).map(Some).collect(),
        None => (0..len.div_ceil(chunk)).map(|_| None).collect(),
    }
}

/// One pass with an optimizer's memory traffic and only additions: the bound a step over the
/// same arrays can reach on this machine.
struct StreamPass<'a, A> {
    p: &'a mut [A],
    g: &'a [A],
    m: Option<&'a mut [A]>,
    v: Option<&'a mut [A]>,
}

impl<A: Float> Kernel for StreamPass<'_, A> {
    type Output = ();

    #[inline(always)]
    fn run(self) {
        let StreamPass { p, g, m, v } = self;
        match (m, v) {
            (None, _) => p.iter_mut().zip(g).for_each(|(p, &g)| *p += g),
            (Some(m), None) => {
                for ((p, &g), m) in p.iter_mut().zip(g).zip(m.iter_mut()) {
                    *m += g;
                    *p += *m;
                }
            }
            (Some(m), Some(v)) => {
                for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                    *m += g;
                    *v += g;
                    *p += *m + *v;
                }
            }
        }
    }
}

fn time_median(steps: usize, mut f: impl FnMut()) -> f64 {
    let mut times = Vec::with_capacity(steps);
    for i in 0..steps + 3 {
        let start = Instant::now();
        f();
        if i >= 3 {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    median(times)
}

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn bench_layout<A: Float>(
    opt: &str,
    l: char,
    threads: usize,
    steps: usize,
    clip: Option<f64>,
) -> Result<String, String> {
    let (tensors, elems) = layout(l)?;
    let params: Vec<Param<A>> = (0..tensors)
        .map(|t| {
            let values: Vec<A> = (0..elems)
                .map(|i| A::from_f64(((i * 7 + t) % 1000) as f64 * 1e-3 - 0.5))
                .collect();
            let p = Param::new(ArrayD::from_shape_vec(tensor_shape(l, elems), values).map_err(|e| e.to_string())?);
            let grad: Vec<A> = (0..elems)
                .map(|i| A::from_f64(((i * 13 + t) % 997) as f64 * 1e-4 - 0.05))
                .collect();
            p.set_grad_from_slice(&grad).map_err(|e| e.to_string())?;
            Ok(p)
        })
        .collect::<Result<_, String>>()?;
    let handles = params.clone();
    let mut optimizer = build(opt, params)?;
    // One thread: the plain sequential step. More: the parallel step in a pool of that size.
    optimizer.set_parallel(threads > 1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| e.to_string())?;
    let mut times = Vec::with_capacity(steps);
    pool.install(|| {
        for i in 0..steps + 3 {
            let start = Instant::now();
            optimizer.step().map_err(|e| e.to_string())?;
            if i >= 3 {
                times.push(start.elapsed().as_secs_f64());
            }
        }
        Ok::<(), String>(())
    })?;
    let m = median(times);
    // Clipping over the same gradients, timed the same way; each call scales them (the
    // coefficient stays below 1 as long as `max_norm` is below the norm), so each call
    // makes both passes.
    let clip = match clip {
        Some(max_norm) => {
            let mut result = Ok(());
            let ms = pool.install(|| {
                time_median(steps, || {
                    if let Err(e) = optimizers::clip::clip_grad_norm(handles.iter(), max_norm, 2.0, false) {
                        result = Err(e.to_string());
                    }
                    // Undo the scaling's shrinking, so that every call clips.
                    for p in &handles {
                        if let Some(mut g) = p.grad_mut() {
                            g.mapv_inplace(|x| x * A::from_f64(1e3));
                        }
                    }
                })
            }) * 1e3;
            result?;
            format!(",\"clip_max_norm\":{max_norm},\"clip_ms\":{ms:.3}")
        }
        None => String::new(),
    };
    let n = tensors * elems;
    let ns = match ns_flops(&tensor_shape(l, elems)) {
        Some(flops) if opt == "muon" => format!(",\"ns_gflops\":{:.2}", tensors as f64 * flops / m / 1e9),
        _ => String::new(),
    };
    let bytes = bytes_per_elem::<A>(opt, l);
    // This machine's references, measured now: the same memory traffic with no arithmetic,
    // and (for Adam) a plain fused loop built for the default target.
    let mut stream = Stream::<A>::new(bytes / size_of::<A>(), n);
    let stream_ms = pool.install(|| time_median(steps, || stream.stream(threads))) * 1e3;
    let plain = if matches!(opt, "adam" | "adamw") && threads == 1 {
        format!(
            ",\"plain_loop_ms\":{:.3}",
            time_median(steps, || stream.plain_adam()) * 1e3
        )
    } else {
        String::new()
    };
    Ok(format!(
        "{{\"opt\":\"{opt}\",\"layout\":\"{l}\",\"dtype\":\"{}\",\"threads\":{threads},\"tensors\":{tensors},\"elems\":{n},\"median_ms\":{:.3},\"gelem_per_s\":{:.3},\"bytes_per_elem\":{bytes},\"gb_per_s\":{:.2},\"stream_ms\":{stream_ms:.3},\"of_bound\":{:.2}{ns}{plain}{clip}}}",
        if size_of::<A>() == 4 { "f32" } else { "f64" },
        m * 1e3,
        n as f64 / m / 1e9,
        (n * bytes) as f64 / m / 1e9,
        stream_ms / (m * 1e3)
    ))
}

fn bench_lbfgs<A: Float>(threads: usize, steps: usize) -> Result<String, String> {
    const N: usize = 1000;
    let mut times = Vec::with_capacity(steps);
    let mut outcome = (0.0, 0, 0);
    for run in 0..steps + 3 {
        let x = Param::new(ArrayD::from_shape_vec(vec![N], Rosenbrock::start::<A>(N)).map_err(|e| e.to_string())?);
        let mut opt = Lbfgs::new(
            [x.clone()],
            LbfgsOptions::new()
                .history_size(10)
                .max_iter(100)
                .line_search_fn(LineSearch::StrongWolfe),
        )
        .map_err(|e| e.to_string())?;
        let (mut buf, mut grad) = (vec![A::zero(); N], vec![A::zero(); N]);
        let mut closure = || {
            buf.copy_from_slice(x.value().as_slice().unwrap_or(&[]));
            let loss = Rosenbrock.eval(&buf, &mut grad);
            // `grad` has the parameter's length.
            x.set_grad_from_slice(&grad).expect("1000 elements");
            loss.as_f64()
        };
        let start = Instant::now();
        opt.step_with(&mut closure).map_err(|e| e.to_string())?;
        let elapsed = start.elapsed().as_secs_f64();
        if run >= 3 {
            times.push(elapsed);
        }
        let sd = opt.state_dict().into_owned();
        let count = |k: &str| {
            sd.state
                .get(&0)
                .and_then(|s| s.get(k))
                .and_then(|v| v.as_u64())
                .unwrap_or(0)
        };
        let mut g = vec![A::zero(); N];
        let loss = Rosenbrock.eval(x.value().as_slice().unwrap_or(&[]), &mut g).as_f64();
        outcome = (loss, count("n_iter"), count("func_evals"));
    }
    let (loss, n_iter, func_evals) = outcome;
    Ok(format!(
        "{{\"opt\":\"lbfgs\",\"problem\":\"rosenbrock\",\"dim\":{N},\"dtype\":\"{}\",\"threads\":{threads},\"median_ms\":{:.3},\"n_iter\":{n_iter},\"func_evals\":{func_evals},\"loss\":{loss}}}",
        if size_of::<A>() == 4 { "f32" } else { "f64" },
        median(times) * 1e3
    ))
}

/// A JSON line of this program as a markdown table row: the values, in order.
fn markdown_row(json: &str) -> String {
    let cells: Vec<&str> = json
        .trim_matches(|c| c == '{' || c == '}')
        .split(',')
        .filter_map(|kv| kv.split_once(':').map(|(_, v)| v.trim_matches('"')))
        .collect();
    format!("| {} |", cells.join(" | "))
}

fn run() -> Result<(), String> {
    let args = parse_args()?;
    for opt in &args.opts {
        for dtype in &args.dtypes {
            for &threads in &args.threads {
                let lines: Vec<String> = if opt == "lbfgs" {
                    vec![match dtype.as_str() {
                        "f32" => bench_lbfgs::<f32>(threads, args.steps)?,
                        "f64" => bench_lbfgs::<f64>(threads, args.steps)?,
                        other => return Err(format!("unknown dtype {other}")),
                    }]
                } else {
                    args.layouts
                        .clone()
                        .unwrap_or_else(|| default_layouts(opt))
                        .iter()
                        .map(|&l| match dtype.as_str() {
                            "f32" => bench_layout::<f32>(opt, l, threads, args.steps, args.clip),
                            "f64" => bench_layout::<f64>(opt, l, threads, args.steps, args.clip),
                            other => Err(format!("unknown dtype {other}")),
                        })
                        .collect::<Result<_, _>>()?
                };
                for line in lines {
                    if args.markdown {
                        println!("{}", markdown_row(&line));
                    } else {
                        println!("{line}");
                    }
                }
            }
        }
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("step_bench: {e}");
        std::process::exit(2);
    }
}
