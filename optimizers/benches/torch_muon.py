"""Times torch's own Muon on one thread: a whole `torch.optim.Muon.step()` and its
Newton-Schulz orthogonalisation alone (`torch.optim._muon._zeropower_via_newtonschulz`),
on random float32 matrices, 5 steps and torch's default coefficients. Prints one JSON line
per (what, shape) with the fields of `cargo run --release -p optimizers --example ns_bench`.

    python optimizers/benches/torch_muon.py                      # 1024x1024 and 1024x4096
    python optimizers/benches/torch_muon.py --shape 256x256 --runs 5

`ms` is the median call, `ms_min` the fastest, after `--warmup` untimed calls (default 1;
on a CPU without bfloat16 instructions a 1024x4096 call takes minutes, and `--warmup 0`
saves one). `gflops` counts 2*m*n*k for each of the three products of a Newton-Schulz
step (x x^T, G G, B x; m <= n) over the median, the same count as ns_bench, so the two
are comparable (a step's element-wise work is not counted).
"""

import argparse
import json
import statistics
import time

import torch
from torch.optim._muon import _zeropower_via_newtonschulz

COEFFICIENTS = (3.4445, -4.775, 2.0315)
NS_STEPS = 5
EPS = 1e-7


def flops(rows, cols):
    m, n = min(rows, cols), max(rows, cols)
    return NS_STEPS * (2 * m * m * n + 2 * m * m * m + 2 * m * m * n)


def timed(fn, runs, warmup):
    for _ in range(warmup):  # first-call set-up, allocator, state creation
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def report(what, rows, cols, times):
    median = statistics.median(times)
    print(
        json.dumps(
            {
                "impl": "torch",
                "what": what,
                "shape": [rows, cols],
                "ms": round(median, 1),
                "ms_min": round(min(times), 1),
                "runs": len(times),
                "gflops": round(flops(rows, cols) / (median * 1e-3) / 1e9, 2),
                "torch": torch.__version__,
                "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            }
        ),
        flush=True,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", default="1024x1024,1024x4096", help="RxC[,RxC...]")
    parser.add_argument("--runs", type=int, default=3, help="timed calls per shape")
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls first")
    parser.add_argument("--what", default="ns,step", help="ns, step or both")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    shapes = [tuple(int(d) for d in s.split("x")) for s in args.shape.split(",")]
    for rows, cols in shapes:
        grad = torch.rand(rows, cols) * 2 - 1
        if "ns" in args.what:
            ns = lambda: _zeropower_via_newtonschulz(grad, COEFFICIENTS, NS_STEPS, EPS)  # noqa: E731
            times = timed(ns, args.runs, args.warmup)
            report("ns", rows, cols, times)
        if "step" in args.what:
            param = torch.nn.Parameter(torch.rand(rows, cols))
            param.grad = grad.clone()
            opt = torch.optim.Muon([param], ns_coefficients=COEFFICIENTS, ns_steps=NS_STEPS, eps=EPS)
            times = timed(opt.step, args.runs, args.warmup)
            report("step", rows, cols, times)


if __name__ == "__main__":
    with torch.no_grad():
        main()
