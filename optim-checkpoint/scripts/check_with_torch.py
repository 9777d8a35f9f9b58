"""Loads .pt files written by optim-checkpoint with real PyTorch and checks them.

Run once on a machine with torch (not in CI), from the repository root:

    python optim-checkpoint/scripts/check_with_torch.py [OUT_DIR]

It runs `cargo run -p optim-checkpoint --example write_for_torch -- OUT_DIR` (default
/tmp/optim-checkpoint-torch-check), then for every file written:
  - torch.load(path, weights_only=True) accepts it, also with mmap=True, with
    map_location="meta", and with TORCH_SERIALIZATION_DEBUG=1 (torch then checks that
    each storage sits where its offset calculation for miniz's layout puts it);
  - each fixture rewritten by the crate loads to exactly what torch loads from the
    original (types strictly: tuple vs list, int vs float, dtypes, strides, values), and
    to the fixture JSON's `contents`;
  - optimizer state dicts in them, and one built from slices in Rust, are accepted by
    torch.optim's load_state_dict and can step;
  - the kitchen-sink file holds the values the Rust example put in;
  - a file torch writes with shared views, a Parameter, a module state_dict's _metadata and
    more dtypes and key kinds is read and rewritten by the crate and loads the same.
Exits non-zero on the first failure.
"""

import json
import os
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("OPTIM_FIXTURES", ROOT.parent / "shared" / "fixtures" / "torch")) / "checkpoints"


def same(a, b, path="root"):
    """Strict structural equality: same Python types, same dtypes, views and bits."""
    if type(a) is not type(b):
        raise AssertionError(f"{path}: {type(a).__name__} vs {type(b).__name__}")
    if isinstance(a, torch.Tensor):
        for attr in ("dtype", "shape", "requires_grad"):
            if getattr(a, attr) != getattr(b, attr):
                raise AssertionError(f"{path}: {attr} {getattr(a, attr)} vs {getattr(b, attr)}")
        if a.stride() != b.stride() or a.storage_offset() != b.storage_offset():
            raise AssertionError(f"{path}: view {a.stride()}/{a.storage_offset()} vs {b.stride()}/{b.storage_offset()}")
        if a.untyped_storage().tolist() != b.untyped_storage().tolist():
            raise AssertionError(f"{path}: storage bytes differ")
    elif isinstance(a, dict):
        if list(a.keys()) != list(b.keys()) or [type(k) for k in a] != [type(k) for k in b]:
            raise AssertionError(f"{path}: keys {list(a)} vs {list(b)}")
        for k in a:
            same(a[k], b[k], f"{path}[{k!r}]")
        if getattr(a, "__dict__", {}) != getattr(b, "__dict__", {}):
            raise AssertionError(f"{path}: attributes differ")
    elif isinstance(a, (list, tuple)):
        if len(a) != len(b):
            raise AssertionError(f"{path}: lengths {len(a)} vs {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        if a.hex() != b.hex():
            raise AssertionError(f"{path}: {a!r} vs {b!r}")
    elif a != b:
        raise AssertionError(f"{path}: {a!r} vs {b!r}")


def to_json(obj):
    """torch.load's result in the fixtures' JSON convention."""
    if isinstance(obj, torch.Tensor):
        return {"shape": list(obj.shape), "dtype": str(obj.dtype).removeprefix("torch."), "data": obj.flatten().tolist()}
    if isinstance(obj, dict):
        return {str(k) if not isinstance(k, bool) else json.dumps(k): to_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json(v) for v in obj]
    return obj


def load_every_way(path):
    tree = torch.load(path, weights_only=True)
    same(tree, torch.load(path, weights_only=True, mmap=True), f"{path.name} (mmap)")
    torch.load(path, weights_only=True, map_location="meta")
    os.environ["TORCH_SERIALIZATION_DEBUG"] = "1"
    try:
        same(tree, torch.load(path, weights_only=True), f"{path.name} (debug offsets)")
    finally:
        del os.environ["TORCH_SERIALIZATION_DEBUG"]
    return tree


OPTIMIZERS = {
    "sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "rmsprop": torch.optim.RMSprop,
    "adagrad": torch.optim.Adagrad, "nadam": torch.optim.NAdam, "asgd": torch.optim.ASGD, "rprop": torch.optim.Rprop,
    "lbfgs": torch.optim.LBFGS,
}


def check_optimizer_loads(kind, state_dict, params):
    """Builds torch's optimizer over `params` grouped as the state dict groups them, loads
    the state dict, and takes a step."""
    groups, start = [], 0
    for g in state_dict["param_groups"]:
        group = {"params": params[start:start + len(g["params"])]}
        if "param_names" in g:
            group["param_names"] = g["param_names"]
        groups.append(group)
        start += len(g["params"])
    opt = OPTIMIZERS[kind](groups, lr=0.1)
    opt.load_state_dict(state_dict)
    same(opt.state_dict()["param_groups"], state_dict["param_groups"], f"{kind} groups after load")
    for p in params:
        p.grad = torch.ones_like(p)
    if kind == "lbfgs":
        opt.step(lambda: sum((p * p).sum() for p in params))
    else:
        opt.step()


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/optim-checkpoint-torch-check")
    subprocess.run(
        ["cargo", "run", "-q", "-p", "optim-checkpoint", "--example", "write_for_torch", "--", str(out), str(FIXTURES)],
        cwd=ROOT, check=True,
    )
    checked = 0
    for written in sorted((out / "roundtrip").glob("*.pt")):
        original = FIXTURES / written.name
        fixture = json.loads(original.with_suffix(".json").read_text())
        tree = load_every_way(written)
        same(tree, torch.load(original, weights_only=True), written.name)
        if to_json(tree) != fixture["contents"]:
            raise AssertionError(f"{written.name}: differs from the fixture's contents")
        state = tree[fixture["optimizer_key"]] if fixture["optimizer_key"] else tree
        params = [torch.tensor(p["data"], dtype=getattr(torch, p["dtype"])).reshape(p["shape"]).requires_grad_()
                  for p in fixture["params"]]
        check_optimizer_loads(fixture["optimizer"], state, params)
        print(f"ok {written.name}: same as torch's own file, its {fixture['optimizer']} state loads and steps")
        checked += 1

    adam = load_every_way(out / "adam_from_slices.pt")
    for t, shape in enumerate([(3, 2), (4,)]):
        n = torch.Size(shape).numel()
        expected = torch.tensor([(k + 1) * 0.125 * (t + 1) for k in range(n)], dtype=torch.float32).reshape(shape)
        st = adam["state"][t]
        assert st["step"].dtype == torch.float32 and st["step"].shape == () and st["step"].item() == 5.0
        assert torch.equal(st["exp_avg"], expected) and torch.equal(st["exp_avg_sq"], expected * expected)
    assert adam["param_groups"][0]["betas"] == (0.9, 0.999) and type(adam["param_groups"][0]["betas"]) is tuple
    params = [torch.zeros(3, 2, requires_grad=True), torch.zeros(4, requires_grad=True)]
    opt = torch.optim.Adam(params, lr=0.01)
    opt.load_state_dict(adam)
    assert opt.state[params[0]]["step"].item() == 5.0
    for p in params:
        p.grad = torch.ones_like(p)
    opt.step()
    # Both parameters' steps were written from one Rust slice; each still steps once.
    assert opt.state[params[0]]["step"].item() == 6.0 and opt.state[params[1]]["step"].item() == 6.0
    print("ok adam_from_slices.pt: values as written, torch.optim.Adam loads it and steps")

    sink = load_every_way(out / "kitchen_sink.pt")
    model = sink["model"]
    assert type(model) is OrderedDict and model._metadata == OrderedDict({"": {"version": 1}})
    t = sink["tensors"]
    grid = torch.arange(12, dtype=torch.float64).reshape(3, 4)
    assert torch.equal(t["whole"], grid)
    assert torch.equal(t["column"], grid[:, 2]) and t["column"].stride() == (4,)
    # Each tensor has a storage of its own: no aliasing torch could update through.
    assert t["column"].untyped_storage().data_ptr() != t["whole"].untyped_storage().data_ptr()
    assert torch.equal(t["transposed"], grid.t()) and not t["transposed"].is_contiguous()
    assert type(t["param"]) is torch.nn.Parameter and t["param"].requires_grad
    assert t["f16"].dtype == torch.float16 and t["f16"].tolist() == [0.5, -1.25]
    assert t["bf16"].dtype == torch.bfloat16 and t["bf16"].tolist() == [3.0, -0.125]
    assert t["i8"].tolist() == [-128, 127] and t["u8"].tolist() == [0, 255] and t["u8"].dtype == torch.uint8
    assert t["i16"].tolist() == [-32768, 7] and t["i32"].tolist() == [-5, 1 << 30]
    assert t["i64"].tolist() == [-(1 << 63), (1 << 63) - 1]
    assert t["bool"].tolist() == [True, False, True] and t["bool"].dtype == torch.bool
    assert t["empty"].shape == (0, 3) and t["scalar"].shape == () and t["scalar"].item() == -2.5
    assert sink["keys"] == {-7: "int", True: "bool", None: "none", 2.5: "float", (1, "a"): "tuple"}
    assert [type(k) for k in sink["keys"]] == [int, bool, type(None), float, tuple]
    assert sink["ints"] == [0, 255, 256, 65535, 65536, -1, -(1 << 31), 1 << 31, -(1 << 63), (1 << 63) - 1]
    assert sink["nested"] == ((), (None, -0.0), []) and str(sink["nested"][1][1]) == "-0.0"
    assert sink["text"] == "héllo ✓"
    print("ok kitchen_sink.pt: views, parameter, OrderedDict _metadata, every dtype, keys, ints")
    # A file torch writes with what the fixtures lack (shared views, a Parameter, a module's
    # OrderedDict with _metadata, more dtypes and key kinds): read and rewritten by the crate.
    extra = out / "torch_written"
    extra.mkdir(parents=True, exist_ok=True)
    numbers = torch.arange(1, 10)
    torch.save({
        "model": torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2)).state_dict(),
        "views": [numbers, numbers[1::2], numbers.reshape(3, 3).t()],
        "param": torch.nn.Parameter(torch.randn(2, 2)),
        "dtypes": [torch.ones(2, dtype=d) for d in (torch.float16, torch.bfloat16, torch.int8, torch.int16,
                                                    torch.int32, torch.uint8, torch.bool, torch.float64)],
        "empty": torch.empty(0, 4), "scalar": torch.tensor(3.5),
        "keys": {1: "a", (2, "b"): None, 3.5: True, None: -1, False: 2**40},
        "nested": ((), [[], {}], (1,)),
    }, extra / "torch_kitchen.pt")
    subprocess.run(
        ["cargo", "run", "-q", "-p", "optim-checkpoint", "--example", "write_for_torch", "--", str(extra / "out"), str(extra)],
        cwd=ROOT, check=True,
    )
    same(torch.load(extra / "torch_kitchen.pt", weights_only=True), load_every_way(extra / "out" / "roundtrip" / "torch_kitchen.pt"))
    print("ok torch_kitchen.pt: written by torch with views, a Parameter and _metadata; read and rewritten, the same")
    print(f"torch {torch.__version__}: {checked + 3} files written by optim-checkpoint checked")


if __name__ == "__main__":
    main()
