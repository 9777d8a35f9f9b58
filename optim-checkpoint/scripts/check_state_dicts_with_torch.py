"""Hands state dicts written by optim to real PyTorch, and checks what it makes of them.

Run once on a machine with torch (not in CI), from the repository root:

    python optim-checkpoint/scripts/check_state_dicts_with_torch.py [OUT_DIR]

It runs `cargo run -p optimizers --example export_for_torch -- OUT_DIR` (default
/tmp/optim-state-dicts-for-torch), which loads every torch checkpoint fixture into the
optimizer of this library it names and writes that optimizer's state dict as .pt,
.safetensors and .json. Then, for every fixture written:
  - torch.load(path, weights_only=True) reads the .pt;
  - torch.optim's optimizer of the fixture, over the fixture's parameters, takes it with
    load_state_dict as it is;
  - its state and options are the ones it gets from torch's own file, value for value, with
    torch's types: int state keys and params, `step` a 0-d float32 tensor, `betas` a tuple;
  - one more step of it gives bit for bit the parameters that the optimizer loaded from
    torch's own file gives;
  - with the `safetensors` package importable, the .safetensors file reads with
    safetensors.safe_open: every tensor of the state, and the tree in its metadata.
Exits non-zero on the first failure.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("OPTIM_FIXTURES", ROOT.parent / "shared" / "fixtures" / "torch")) / "checkpoints"
CLASSES = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "lbfgs": torch.optim.LBFGS,
    "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad,
    "nadam": torch.optim.NAdam,
    "asgd": torch.optim.ASGD,
    "rprop": torch.optim.Rprop,
}
FLAGS = {"foreach", "fused", "capturable", "differentiable", "initial_lr"}

try:
    from safetensors import safe_open
except ImportError:  # optional: pip install --target DIR safetensors; PYTHONPATH=DIR
    safe_open = None


def params_of(fixture):
    dtypes = {"float32": torch.float32, "float64": torch.float64}
    return [
        torch.tensor(p["data"], dtype=torch.float64).to(dtypes[p["dtype"]]).reshape(p["shape"]).requires_grad_(True)
        for p in fixture["params"]
    ]


def optimizer_of(fixture, state_dict):
    """torch's optimizer of the fixture over fresh copies of its parameters, in the dict's
    groups (named as the dict names them)."""
    params = params_of(fixture)
    groups = []
    for g in state_dict["param_groups"]:
        options = {k: v for k, v in g.items() if k not in ("params", "param_names")}
        chosen = [params[i] for i in g["params"]]
        if "param_names" in g:
            chosen = list(zip(g["param_names"], chosen))
        groups.append({"params": chosen, **options})
    return CLASSES[fixture["optimizer"]](groups), params


def same_value(path, ours, theirs):
    """ours (from optim's file) holds theirs (from torch's file): tensors of the same dtype
    and shape and bits; a number equal to a 0-d tensor's; tuples stay tuples."""
    if isinstance(theirs, torch.Tensor) and isinstance(ours, torch.Tensor):
        if ours.dtype != theirs.dtype or ours.shape != theirs.shape:
            raise AssertionError(f"{path}: {ours.dtype} {tuple(ours.shape)} vs {theirs.dtype} {tuple(theirs.shape)}")
        if not torch.equal(torch.nan_to_num(ours, nan=1.5), torch.nan_to_num(theirs, nan=1.5)):
            raise AssertionError(f"{path}: values differ")
    elif isinstance(theirs, (list, tuple)):
        if type(ours) is not type(theirs) or len(ours) != len(theirs):
            raise AssertionError(f"{path}: {type(ours).__name__} of {len(ours)} vs {type(theirs).__name__} of {len(theirs)}")
        for i, (a, b) in enumerate(zip(ours, theirs)):
            same_value(f"{path}[{i}]", a, b)
    elif isinstance(theirs, torch.Tensor) or isinstance(ours, torch.Tensor):
        a = ours.item() if isinstance(ours, torch.Tensor) else ours
        b = theirs.item() if isinstance(theirs, torch.Tensor) else theirs
        if a != b and not (isinstance(a, float) and math.isnan(a) and math.isnan(b)):
            raise AssertionError(f"{path}: {a!r} vs {b!r}")
    elif ours != theirs and not (isinstance(ours, float) and math.isnan(ours) and math.isnan(theirs)):
        raise AssertionError(f"{path}: {ours!r} vs {theirs!r}")


def check(stem, out):
    fixture = json.loads((FIXTURES / f"{stem}.json").read_text())
    original = torch.load(FIXTURES / f"{stem}.pt", weights_only=True)
    if fixture["optimizer_key"] is not None:
        original = original[fixture["optimizer_key"]]
    ours = torch.load(out / f"{stem}.pt", weights_only=True)

    # Torch's types, as torch writes them.
    for i in ours["state"]:
        if type(i) is not int:
            raise AssertionError(f"state key {i!r} is not an int")
        step = ours["state"][i].get("step")
        if isinstance(step, torch.Tensor) and (step.dtype != torch.float32 or step.dim() != 0):
            raise AssertionError(f"state {i} step is {step.dtype} {tuple(step.shape)}")
    for g in ours["param_groups"]:
        if not all(type(p) is int for p in g["params"]):
            raise AssertionError("params are not ints")
        for name in ("betas", "etas", "step_sizes"):
            if name in g and type(g[name]) is not tuple:
                raise AssertionError(f"{name} is a {type(g[name]).__name__}, not a tuple")

    a, pa = optimizer_of(fixture, original)
    b, pb = optimizer_of(fixture, original)
    a.load_state_dict(original)
    b.load_state_dict(ours)  # as it is
    sa, sb = a.state_dict(), b.state_dict()
    if list(sa["state"]) != list(sb["state"]):
        raise AssertionError(f"state keys {list(sb['state'])} vs torch's {list(sa['state'])}")
    for i in sa["state"]:
        if set(sa["state"][i]) != set(sb["state"][i]):
            raise AssertionError(f"state {i}: entries {sorted(sb['state'][i])} vs {sorted(sa['state'][i])}")
        for k in sa["state"][i]:
            same_value(f"state[{i}][{k}]", sb["state"][i][k], sa["state"][i][k])
    for n, (ga, gb) in enumerate(zip(sa["param_groups"], sb["param_groups"])):
        for k in ga:
            if k not in FLAGS:
                same_value(f"param_groups[{n}][{k}]", gb.get(k), ga[k])

    # One more step of each: the same parameters, bit for bit.
    def closure_for(params):
        def closure():
            for p in params:
                p.grad = None
            loss = sum(((p.double() - 0.25) ** 2).sum() + 0.1 * torch.sin(p.double()).sum() for p in params)
            loss.backward()
            return loss.to(params[0].dtype)
        return closure

    for opt, params in ((a, pa), (b, pb)):
        if isinstance(opt, torch.optim.LBFGS):
            opt.step(closure_for(params))
        else:
            closure_for(params)()
            opt.step()
    for i, (x, y) in enumerate(zip(pa, pb)):
        if not torch.equal(x, y):
            raise AssertionError(f"after a step, parameter {i} differs from the run loaded from torch's file")

    if safe_open is not None:
        # Read again: load_state_dict kept the tensors, and the step changed them in place.
        ours = torch.load(out / f"{stem}.pt", weights_only=True)
        with safe_open(str(out / f"{stem}.safetensors"), framework="pt") as f:
            tree = json.loads(f.metadata()["optim.tree"])
            names = set(f.keys())
            for i, entry in tree["state"].items():
                for k, v in entry.items():
                    if isinstance(v, dict) and "tensor" in v:
                        t = f.get_tensor(v["tensor"])
                        names.discard(v["tensor"])
                        same_value(f"safetensors state[{i}][{k}]", t, ours["state"][int(i)][k])
                    elif isinstance(v, list):
                        for j, item in enumerate(v):
                            if isinstance(item, dict) and "tensor" in item:
                                names.discard(item["tensor"])
                                same_value(f"safetensors state[{i}][{k}][{j}]", f.get_tensor(item["tensor"]), ours["state"][int(i)][k][j])
            if names:
                raise AssertionError(f"safetensors tensors not in the tree: {sorted(names)}")


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/optim-state-dicts-for-torch")
    subprocess.run(
        ["cargo", "run", "-q", "-p", "optimizers", "--example", "export_for_torch", "--", str(out)],
        cwd=ROOT,
        check=True,
    )
    stems = sorted(p.stem for p in out.glob("*.pt"))
    if not stems:
        raise SystemExit("nothing was written")
    for stem in stems:
        check(stem, out)
        print(f"ok   {stem}: torch.load(weights_only=True), load_state_dict as is, same state, same next step"
              + (", safetensors read" if safe_open else ""))
    print(f"torch {torch.__version__} took {len(stems)} state dicts written by optim")


if __name__ == "__main__":
    main()
