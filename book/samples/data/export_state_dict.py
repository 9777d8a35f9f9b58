"""Exports a torch optimizer's state dict as the JSON that optim reads, and writes the
small Adam run that the book loads in `tests/saving.rs` (`torch_adam.json`) and, as a
training checkpoint saved by `torch.save`, in `tests/checkpoints.rs`
(`torch_checkpoint.pt`: `{"model": {"weight", "bias"}, "optimizer": ..., "epoch": 3}`).

Run with PyTorch installed: `python export_state_dict.py` (in this directory).
"""

import json
import math

import torch


# ANCHOR: export
def to_json_value(value):
    """A state-dict value as optim reads it: tensors as {"shape", "dtype", "data"}, NaN
    and infinities as the strings "NaN", "Infinity" and "-Infinity"."""
    if torch.is_tensor(value):
        return {
            "shape": list(value.shape),
            "dtype": str(value.dtype).removeprefix("torch."),
            "data": [to_json_value(x) for x in value.detach().flatten().tolist()],
        }
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, (list, tuple)):
        return [to_json_value(x) for x in value]
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    return value


def export_state_dict(optimizer, path):
    """Writes `optimizer.state_dict()` to `path` as JSON."""
    with open(path, "w") as f:
        json.dump(to_json_value(optimizer.state_dict()), f)
# ANCHOR_END: export


GRADS = [
    ([[1.0, -2.0], [0.5, 0.25]], [0.5, -1.0]),
    ([[0.5, -1.0], [1.0, 0.0]], [0.25, 0.0]),
    ([[-1.0, 0.5], [0.25, 1.0]], [-0.5, 0.5]),
    ([[0.25, 0.25], [-0.5, 2.0]], [1.0, -0.25]),
    ([[2.0, -0.5], [0.0, -1.0]], [0.0, 0.75]),
]

if __name__ == "__main__":
    weight = torch.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
    bias = torch.tensor([0.0, 1.0], requires_grad=True)
    opt = torch.optim.Adam([weight, bias], lr=0.1, betas=(0.9, 0.99))
    for step, (gw, gb) in enumerate(GRADS):
        weight.grad, bias.grad = torch.tensor(gw), torch.tensor(gb)
        opt.step()
        if step == 2:
            export_state_dict(opt, "torch_adam.json")
            model = {"weight": weight.detach().clone(), "bias": bias.detach().clone()}
            torch.save({"model": model, "optimizer": opt.state_dict(), "epoch": 3}, "torch_checkpoint.pt")
            print("after 3 steps:", weight.tolist(), bias.tolist())
    print("after 5 steps:", weight.tolist(), bias.tolist())
