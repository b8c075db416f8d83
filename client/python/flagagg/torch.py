"""PyTorch helper: one exchange for all of a model's gradients. Imports torch only when used."""
from __future__ import annotations

import numpy as np


def _params(model):
    return [p for p in model.parameters() if p.requires_grad]


def flat_grads(model) -> np.ndarray:
    """Every trainable parameter's gradient, in ``model.parameters()`` order, as one float32 vector.

    A parameter without a gradient (``grad is None``) contributes zeros, so the dimension never changes.
    """
    import torch

    parts = []
    for p in _params(model):
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        parts.append(g.detach().reshape(-1).to(device="cpu", dtype=torch.float32))
    if not parts:
        return np.zeros(0, dtype=np.float32)
    return torch.cat(parts).numpy()


def set_flat_grads(model, flat) -> None:
    """Writes ``flat`` back into each ``param.grad`` in place (allocating a grad where there was none)."""
    import torch

    params = _params(model)
    total = sum(p.numel() for p in params)
    if len(flat) != total:
        raise ValueError(f"flat vector has {len(flat)} values, the model has {total} trainable ones")
    src = torch.from_numpy(np.ascontiguousarray(flat, dtype=np.float32))
    offset = 0
    with torch.no_grad():
        for p in params:
            n = p.numel()
            piece = src[offset:offset + n].view_as(p)
            if p.grad is None:
                p.grad = torch.empty_like(p)
            p.grad.copy_(piece)  # converts to the grad's dtype and device
            offset += n


def exchange_grads(client, round_id, model) -> np.ndarray:
    """Flattens the model's gradients, exchanges them for ``round_id`` (None: the client's next_round), writes
    the aggregate into ``p.grad``.

    Returns the aggregate (numpy float32). Errors are the client's (see flagagg.errors); on ChunkRejected the
    gradients are left as they were.
    """
    aggregate = client.exchange(round_id, flat_grads(model))
    set_flat_grads(model, aggregate)
    return aggregate
