"""PyTorch's side of the checkpoint benchmark (`examples/ckpt_bench.rs`): the same Adam
state (float32, one step over the same parameters and gradients), saved with torch.save and
loaded with torch.load(weights_only=True) + optimizer.load_state_dict, timed and measured
the same way, printed as the same JSON lines with "format": "torch".

    python optimizers/benches/torch_ckpt_reference.py --layout a --dir /tmp --repeat 5

save_ms is torch.save alone (torch does not sync the file); save_sync_ms adds an fsync of
the file, which optim's save does (write to a temporary file, sync, rename). load_ms is
torch.load plus load_state_dict (which keeps the loaded tensors: torch.load's read is the
one copy). peak_rss_mb is how far resident memory rose above its level before the load, at
its peak (VmHWM, reset through /proc/self/clear_refs), as in the Rust benchmark.
"""

import argparse
import json
import os
import statistics
import time

import torch

LAYOUTS = {"a": (1, 16_777_216), "c": (65_536, 256)}


def status_mb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def params(tensors, elems):
    out = []
    idx = torch.arange(elems, dtype=torch.int64)
    for t in range(tensors):
        value = (((idx * 7 + t) % 1000).to(torch.float32) * 1e-3 - 0.5).requires_grad_(True)
        value.grad = ((idx * 13 + t) % 997).to(torch.float32) * 1e-4 - 0.05
        out.append(value)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--layout", default="a")
    parser.add_argument("--dir", default="/tmp")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    tensors, elems = LAYOUTS[args.layout]
    ps = params(tensors, elems)
    opt = torch.optim.Adam(ps)
    opt.step()
    path = os.path.join(args.dir, f"torch-adam-{args.layout}.pt")

    saves, synced = [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        torch.save(opt.state_dict(), path)
        saves.append((time.perf_counter() - t) * 1e3)
        fd = os.open(path, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
        synced.append((time.perf_counter() - t) * 1e3)
    size = os.path.getsize(path)
    del opt

    loads, peak = [], 0.0
    for _ in range(args.repeat):
        fresh = torch.optim.Adam(ps)
        before = status_mb("VmRSS:")
        reset_peak()
        t = time.perf_counter()
        fresh.load_state_dict(torch.load(path, weights_only=True))
        loads.append((time.perf_counter() - t) * 1e3)
        peak = max(peak, status_mb("VmHWM:") - before)
        del fresh
    os.remove(path)
    print(json.dumps({
        "format": "torch",
        "tensors": tensors,
        "elems": tensors * elems,
        "save_ms": round(statistics.median(saves), 1),
        "save_sync_ms": round(statistics.median(synced), 1),
        "load_ms": round(statistics.median(loads), 1),
        "bytes": size,
        "peak_rss_mb": round(peak, 1),
        "state_mb": round(tensors * (2 * elems + 1) * 4 / 2**20, 1),
    }), flush=True)


if __name__ == "__main__":
    main()
