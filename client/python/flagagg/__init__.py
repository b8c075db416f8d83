"""flagagg: a training worker's client for the flagagg gradient aggregator.

    import flagagg
    with flagagg.Client(["ws://a:8080/v1/workers", "ws://b:8080/v1/workers"], token) as c:  # or one URL
        aggregate = c.exchange(None, flat_gradient)   # the server's next round; numpy float32, the server's rule

PyTorch (optional): ``flagagg.torch.exchange_grads(client, round_id, model)``.
"""
from .client import Client, RoundTimeout
from .errors import (AggregatorLost, ChunkRejected, ConnectionRefused, ControlError, FlagaggError,
                     ProtocolViolation, RoundFailed, RoundLost, RoundRefused, ServerError)
from .frame import CRC_BACKEND, FrameError

__version__ = "0.1.0"

__all__ = ["Client", "ServerError", "ConnectionRefused", "ControlError", "ChunkRejected", "RoundFailed", "RoundRefused",
           "RoundLost", "RoundTimeout", "AggregatorLost", "FlagaggError", "ProtocolViolation", "FrameError", "CRC_BACKEND"]
