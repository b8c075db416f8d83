"""PyTorch helper: one exchange for all of a model's gradients. Imports torch only when used."""
from __future__ import annotations

import logging

import numpy as np

from .errors import RoundFailed

_LOG = logging.getLogger("flagagg")


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


def exchange_grads(client, round_id, model, retries=3) -> np.ndarray:
    """Flattens the model's gradients, exchanges them for ``round_id`` (None: the client's next_round), writes
    the aggregate into ``p.grad``.

    A round that fails (RoundFailed: the server reported it failed, e.g. "aggregator lost", or RoundLost: the
    connection was lost and the client reconnected) is exchanged again, with the same gradients, at the
    client's next_round, up to ``retries`` times; then the last RoundFailed is raised. The step is retried,
    the gradient is not recomputed.

    Returns the aggregate (numpy float32). Other errors are the client's (see flagagg.errors), raised at once;
    the gradients are then left as they were.
    """
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    grads = flat_grads(model)
    for attempt in range(retries + 1):
        try:
            aggregate = client.exchange(round_id, grads)
            break
        except RoundFailed as e:
            if attempt == retries:
                raise
            _LOG.warning("round %s failed (%s): exchanging the same gradients again at the next round (retry "
                         "%d of %d)", e.round, e.reason, attempt + 1, retries)
            round_id = None  # the client's next_round: after the failed round, or the new session's round
    set_flat_grads(model, aggregate)
    return aggregate
