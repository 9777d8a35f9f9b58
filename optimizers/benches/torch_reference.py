"""PyTorch's side of the performance chapter: the same configurations as
`examples/step_bench.rs`, timed the same way (warm-up, median of the timed steps),
printed as the same JSON lines.

    python optimizers/benches/torch_reference.py --opt adam --layout a --threads 1
    python optimizers/benches/torch_reference.py --opt all --layout all --impl all

--impl default (foreach=False, torch's default on CPU), foreach, fused.
With --opt lbfgs: the 1000-dimensional Rosenbrock problem (x0 = -1.2, 1, ...;
history 10; strong Wolfe; one step with max_iter 100), gradient written by hand as
in the Rust example, and the counts torch reaches.
"""

import argparse
import json
import statistics
import time

import torch

LAYOUTS = {"a": (1, 16_777_216), "b": (256, 65_536), "c": (65_536, 256), "s": (1, 262_144)}
# Not in "all": one 4096 x 4096 matrix, what Adafactor factors.
SHAPES = {"m": (1, (4096, 4096))}
# Arrays read or written per element (the parameter, its gradient, each state tensor),
# as `step_bench` counts them for its memory bound.
BYTES = {"sgd": 3, "sgdm": 5, "adam": 7, "adamw": 7, "rmsprop": 5, "rprop": 7, "adadelta": 7, "adagrad": 5,
         "adamax": 7, "asgd": 5, "nadam": 7, "radam": 7}


# The optimizers of `step_bench --opt`, with torch's default options (but SGD's lr).
CLASSES = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "adadelta": torch.optim.Adadelta,
    "adafactor": torch.optim.Adafactor,
    "adagrad": torch.optim.Adagrad,
    "adamax": torch.optim.Adamax,
    "asgd": torch.optim.ASGD,
    "nadam": torch.optim.NAdam,
    "radam": torch.optim.RAdam,
    "rmsprop": torch.optim.RMSprop,
    "rprop": torch.optim.Rprop,
}
# torch has a fused CPU kernel for these alone.
FUSED = {"sgd", "sgdm", "adam", "adamw", "adagrad"}


def make(opt, params, impl):
    kw = {}
    if impl == "fused":
        if opt not in FUSED:
            return None
        kw["fused"] = True
    elif impl == "foreach":
        kw["foreach"] = True
    else:
        kw["foreach"] = False
    if opt == "sgd":
        return torch.optim.SGD(params, lr=1e-3, **kw)
    if opt == "sgdm":
        return torch.optim.SGD(params, lr=1e-3, momentum=0.9, **kw)
    if opt not in CLASSES:
        raise SystemExit(f"unknown --opt {opt}: expected sgd, sgdm, lbfgs or one of {', '.join(CLASSES)}")
    return CLASSES[opt](params, **kw)


def bench_layout(opt, layout, impl, dtype, steps):
    tensors, shape = SHAPES[layout] if layout in SHAPES else (LAYOUTS[layout][0], (LAYOUTS[layout][1],))
    elems = 1
    for size in shape:
        elems *= size
    params = []
    for t in range(tensors):
        idx = torch.arange(elems, dtype=torch.float64)
        p = ((idx * 7 + t) % 1000 * 1e-3 - 0.5).to(dtype).reshape(shape).requires_grad_(True)
        p.grad = ((idx * 13 + t) % 997 * 1e-4 - 0.05).to(dtype).reshape(shape)
        params.append(p)
    o = make(opt, params, impl)
    if o is None:
        return None
    times = []
    for i in range(steps + 3):
        start = time.perf_counter()
        o.step()
        if i >= 3:
            times.append(time.perf_counter() - start)
    m = statistics.median(times)
    n = tensors * elems
    size = 4 if dtype == torch.float32 else 8
    return {
        "impl": f"torch {torch.__version__} {impl}",
        "opt": opt,
        "layout": layout,
        "dtype": "f32" if dtype == torch.float32 else "f64",
        "threads": torch.get_num_threads(),
        "tensors": tensors,
        "elems": n,
        "median_ms": round(m * 1e3, 3),
        "gelem_per_s": round(n / m / 1e9, 3),
        "bytes_per_elem": BYTES.get(opt, (6 if len(shape) > 1 else 8) if opt == "adafactor" else 0) * size,
    }


def rosenbrock_closure(x):
    def closure():
        with torch.no_grad():
            v = x.detach()
            a = v[1:] - v[:-1] ** 2
            b = 1 - v[:-1]
            loss = (100 * a * a + b * b).sum()
            g = torch.zeros_like(v)
            g[:-1] += -400 * v[:-1] * a - 2 * b
            g[1:] += 200 * a
            x.grad = g
        return loss

    return closure


def bench_lbfgs(dtype, steps):
    n = 1000
    times, out = [], None
    for i in range(steps + 3):
        x0 = torch.tensor([-1.2 if k % 2 == 0 else 1.0 for k in range(n)], dtype=dtype)
        x = x0.clone().requires_grad_(True)
        o = torch.optim.LBFGS([x], history_size=10, max_iter=100, line_search_fn="strong_wolfe")
        closure = rosenbrock_closure(x)
        start = time.perf_counter()
        o.step(closure)
        if i >= 3:
            times.append(time.perf_counter() - start)
        st = o.state[o._params[0]]
        out = (float(closure()), st["n_iter"], st["func_evals"])
    return {
        "impl": f"torch {torch.__version__}",
        "opt": "lbfgs",
        "problem": "rosenbrock",
        "dim": n,
        "dtype": "f32" if dtype == torch.float32 else "f64",
        "threads": torch.get_num_threads(),
        "median_ms": round(statistics.median(times) * 1e3, 3),
        "n_iter": out[1],
        "func_evals": out[2],
        "loss": out[0],
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--opt", default="adam")
    ap.add_argument("--layout", default="a")
    ap.add_argument("--impl", default="default")
    ap.add_argument("--dtype", default="f32")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=21)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    opts = ["sgd", "sgdm", "lbfgs", *CLASSES] if args.opt == "all" else args.opt.split(",")
    layouts = list(LAYOUTS) if args.layout == "all" else args.layout.split(",")
    impls = ["default", "foreach", "fused"] if args.impl == "all" else args.impl.split(",")
    dtypes = {"f32": [torch.float32], "f64": [torch.float64], "all": [torch.float32, torch.float64]}[args.dtype]
    for opt in opts:
        for dtype in dtypes:
            if opt == "lbfgs":
                print(json.dumps(bench_lbfgs(dtype, args.steps)), flush=True)
                continue
            for impl in impls:
                for layout in layouts:
                    row = bench_layout(opt, layout, impl, dtype, args.steps)
                    if row is not None:  # no fused kernel for this optimizer
                        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
