"""Every error the server can report, as one exception hierarchy.

ServerError (code, reason)
 +- ConnectionRefused   the server closed the WebSocket: code is the close code (4401 bad token, 4409 token
 |                      in use, 4400 protocol violation, 4413 too large, 4429 flood, 4408 too slow, 1001, 1011)
 |                      or the HTTP status when the upgrade itself was refused
 +- ControlError        {"type": "error"} for one of our control messages (connection stays open)
 +- ChunkRejected       {"type": "chunk_error"} that took this worker out of the round (400, 403, 404, 409,
 |                      422, 500, or 429 after the retries ran out); raised once the round's result arrived, so
 |                      the connection is in sync for the next round: .result and .aggregate hold what came
 +- RoundRefused        the server refused the round id at once (425 ahead of its schedule, 410 over before this
 |                      worker took part): no result will come; the reason names the current round and
 |                      Client.next_round is the id to use
 +- RoundFailed         the round closed with status "failed", or the server stopped sending its results
     +- RoundLost       the connection was lost during the round; the client reconnected (Client.next_round
                        is the new session's round), but this round's result is unknown
AggregatorLost (not a ServerError): the connection was lost and no gateway gave a session again within the
                    client's failover_s.
ProtocolViolation (not a ServerError): the server sent something this client cannot understand.

Every RoundFailed (RoundLost included) leaves the client ready for its next round: retrying the step at
Client.next_round is safe (flagagg.torch.exchange_grads does). AggregatorLost leaves the client closed.
"""
from __future__ import annotations


class FlagaggError(Exception):
    """Base of every flagagg exception."""


class ServerError(FlagaggError):
    """An error the server reported: ``code`` (int) and ``reason`` (its text)."""

    def __init__(self, code, reason: str, message: str = None):
        self.code = code
        self.reason = reason
        super().__init__(message or f"{code}: {reason}")


class ConnectionRefused(ServerError):
    """The server closed the connection (or refused the upgrade) with ``code`` and ``reason``."""


class ControlError(ServerError):
    """The server answered one of our control messages with {"type": "error"}."""


class ChunkRejected(ServerError):
    """A gradient chunk was refused and the worker left the round (see the class docstring of the module)."""

    def __init__(self, code, reason, round_id, chunk, result=None, aggregate=None):
        super().__init__(code, reason, f"round {round_id}, chunk {chunk} rejected with {code}: {reason}")
        self.round = round_id
        self.chunk = chunk
        self.result = result
        self.aggregate = aggregate


class RoundRefused(ServerError):
    """The server refused ``round`` at once (code 425 or 410, with the reason): use ``Client.next_round``."""

    def __init__(self, code, reason, round_id):
        super().__init__(code, reason, f"round {round_id} refused with {code}: {reason}")
        self.round = round_id


class RoundFailed(ServerError):
    """The round closed with status "failed"; ``result`` is the server's result message (with its record)."""

    def __init__(self, round_id, reason, result=None):
        super().__init__("failed", reason, f"round {round_id} failed: {reason}")
        self.round = round_id
        self.result = result


class RoundLost(RoundFailed):
    """The connection was lost while ``round`` was in flight; the client has a new session (``Client.url``,
    ``Client.next_round``) but cannot know how the round ended. ``reason`` starts with "aggregator lost"."""


class AggregatorLost(FlagaggError):
    """The connection was lost and no gateway gave a session again within ``failover_s`` seconds.

    ``urls``: the gateways tried, ``attempts``: how many connections were tried, ``last_error``: the last
    refusal (also the exception's ``__cause__``). The client is closed.
    """

    def __init__(self, urls, failover_s, attempts, last_error):
        self.urls = tuple(urls)
        self.attempts = attempts
        self.last_error = last_error
        super().__init__(f"no session from {', '.join(self.urls)} within {failover_s:g} s ({attempts} attempts); "
                         f"last error: {type(last_error).__name__}: {last_error}")


class ProtocolViolation(FlagaggError):
    """The server sent a message this client does not understand (a bug on one side)."""
