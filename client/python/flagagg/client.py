"""A worker of a flagagg job over WebSocket (docs/protocol.md, "WebSocket workers (version 1)").

One Client is one worker, over one connection at a time. It is not thread-safe: use it from one thread (the
websockets library reads the socket in its own background thread, so acknowledgements keep arriving while we
send). When the connection is lost it reconnects to any gateway of the job (docs/protocol.md, "Failover").
Client is over 400 lines because connecting, failover, flow control and message handling all act on one
connection's state (the round in flight, its credits and pending results); split, they would pass it around.
"""
from __future__ import annotations

import contextlib
import json
import logging
import random
import ssl
import time
from collections import deque

import numpy as np
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.protocol import State
from websockets.sync.client import connect

from . import frame as fr
from .errors import (AggregatorLost, ChunkRejected, ConnectionRefused, ControlError, FlagaggError,
                     ProtocolViolation, RoundFailed, RoundLost, RoundRefused)

_LOG = logging.getLogger("flagagg")
PROTOCOL_VERSION = 1
# Until the session names chunk_coords, accept frames of up to 64 Mi values; then exactly one chunk frame.
_DEFAULT_MAX_MESSAGE = fr.HEADER_BYTES + 4 * (1 << 24)
_MAX_TEXT = 1 << 20
# Codes after which the worker is out of the round and waits for the result (the protocol's "stop sending").
_STOP_CODES = (400, 403, 404, 409, 422, 500)
# The round id is not the server's: 425 ahead of its schedule, 410 over (before this worker took part).
_TOO_EARLY, _ROUND_OVER = 425, 410
# Refusals after which another gateway (or the same one, later) may give a session: a standby's 503 (or a
# proxy's 502/504 in front of a dead gateway) and the close codes of a lost or restarting server. Connection
# errors (refused, reset, timed out) count too; every other refusal (401, 4400, 4403, ...) is final.
_TRY_ANOTHER_STATUS = (502, 503, 504)
_TRY_ANOTHER_CLOSE = (1001, 1006, 1011, 1012, 1013, 1014)
# 4409 (slot or token taken) only while reconnecting: the old connection may still be closing on a gateway.
_SLOT_TAKEN = 4409
# Pauses between passes over the gateways: 0.2 s, doubling, at most 5 s, each with jitter.
_BACKOFF_FIRST_S, _BACKOFF_CAP_S = 0.2, 5.0


class RoundTimeout(FlagaggError, TimeoutError):
    """No message from the server for longer than the client's timeout while a round was under way."""


class _Incoming:
    """The aggregate of one round as it arrives: ``out`` is None for a round this worker did not ask for."""

    def __init__(self, result, out):
        self.result = result
        self.out = out
        self.expected = int(result.get("chunks", 0)) if result.get("status") == "completed" else 0
        self.received = set()

    def done(self):
        return len(self.received) >= self.expected


class Client:
    """``with Client(url, token) as c: agg = c.exchange(None, flat_gradient)``.

    The server owns the round ids: ``next_round`` is the round to exchange (the session's current round,
    then the one after the latest result); ``exchange(None, ...)`` uses it.

    url: ``ws://HOST:PORT/v1/workers`` or ``wss://...`` (then ``ssl_context`` is used, if given), or a list
        of them: the gateways of the job's servers (the active one and its standbys), tried in turn.
        ``client.url`` is the one connected.
    dim: send the hello at once with this dimension; otherwise the first exchange sends it with its
        gradient's size (``session`` is None until then).
    slot: ask for this slot (reproducible worker order); by default the server gives the first free one.
    timeout: most seconds to wait for any one server message during a round; None derives it from the
        session (deadline_max_ms + result_timeout_ms + 30 s).
    retries_429: how often one chunk is resent after 429 (credits or open rounds exceeded) before giving up.
    failover_s: how long to keep trying the gateways (in turn, with back-off) for a session, at the start and
        after the connection was lost; then AggregatorLost. 0: one try of each URL, and a lost connection
        raises ConnectionRefused (the behaviour before failover).
    """

    def __init__(self, url, token, *, dim=None, slot=None, ssl_context=None, open_timeout=10.0, timeout=None,
                 retries_429=200, max_message_bytes=_DEFAULT_MAX_MESSAGE, failover_s=60.0):
        self.urls = (url,) if isinstance(url, str) else tuple(url)
        if not self.urls or not all(isinstance(u, str) for u in self.urls):
            raise ValueError(f"url must be a URL or a non-empty list of URLs, got {url!r}")
        if not failover_s >= 0:
            raise ValueError(f"failover_s must be >= 0, got {failover_s}")
        self.url = None
        self._url_index = -1
        self._failover_s = float(failover_s)
        self.session = None
        self.last_result = None
        self.last_timing = None
        self._timeout = timeout
        self._retries_429 = retries_429
        self._incoming = {}
        self._sending = None  # round id while this worker's gradient is in flight
        self._next_round = 0
        self._backoff = 0.0
        self.stray_frames = 0  # aggregate frames of rounds this worker was not exchanging: acked and dropped
        self._last_stray_round = None
        self._connect_kwargs = dict(additional_headers={"Authorization": f"Bearer {token}"}, compression=None,
                                    max_size=max_message_bytes, open_timeout=open_timeout)
        if ssl_context is not None:
            self._connect_kwargs["ssl"] = ssl_context
        self._ws = None
        self._slot = slot
        self._dim = None if dim is None else int(dim)
        self._connect(None)

    # -- connection -------------------------------------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _connect(self, lost):
        """A connection (and a session, once the dimension is known) from the first gateway that gives one.

        ``lost``: the error that ended the previous connection (None at the start); the gateway after that
        one is tried first. Passes over every URL, pausing between passes with back-off, until failover_s
        has passed (each attempt is bounded by open_timeout and the session's wait).
        """
        n = len(self.urls)
        first = 0 if lost is None else (self._url_index + 1) % n
        deadline = time.monotonic() + self._failover_s
        pauses = _backoff_pauses(random.Random())
        attempts, last = 0, None
        while True:
            for k in range(n):
                i = (first + k) % n
                attempts += 1
                try:
                    self._connect_to(self.urls[i])
                    self._url_index = i
                    if lost is not None:
                        _LOG.warning("reconnected to %s after %d attempt(s); the session's round is %s",
                                     self.url, attempts, self._next_round)
                    return
                except (FlagaggError, OSError, InvalidHandshake) as e:
                    self._discard_connection()
                    if not _try_another(e, reconnecting=lost is not None):
                        raise
                    last = e
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                if self._failover_s == 0:
                    raise last
                raise AggregatorLost(self.urls, self._failover_s, attempts, last) from last
            time.sleep(min(remaining, next(pauses)))

    def _connect_to(self, url):
        """One attempt: the upgrade, then the hello if the dimension is known."""
        try:
            # Entered as a context manager (websockets >= 17 deprecates using connect() otherwise).
            self._ws = contextlib.ExitStack().enter_context(connect(url, **self._connect_kwargs))
        except InvalidStatus as e:
            raise _http_refusal(e) from None
        except ConnectionClosed as e:
            # websockets raises this when the server drops the TCP connection during the opening handshake
            # (a gateway whose server just died, or is dying): 1006, try another.
            raise _refused(e) from None
        self.url = url
        if self._dim is not None:
            self._hello()

    def _recover(self, error):
        """After ``error`` ended the connection: a new session (same dim and slot) if the loss is one to fail
        over from, else ``error`` again. Raises AggregatorLost if no gateway gives a session in time."""
        if self._failover_s == 0 or self._ws is None or not _try_another(error, reconnecting=False):
            raise error
        _LOG.warning("connection to %s lost (%s): reconnecting", self.url, error)
        self._discard_connection()
        self.session = None
        self._incoming.clear()  # results of the old connection: none of them will be completed
        self._connect(error)

    def _discard_connection(self):
        ws, self._ws = self._ws, None
        if ws is not None:
            with contextlib.suppress(Exception):
                ws.close()

    def close(self):
        """Says bye and closes; safe to call twice."""
        ws, self._ws = self._ws, None
        if ws is None:
            return
        try:
            ws.send(json.dumps({"type": "bye"}))
        except Exception:
            pass
        try:
            ws.close()
        except Exception:
            pass

    def hello(self, dim):
        """Joins the job with a gradient of ``dim`` values; returns (and keeps) the session."""
        if self.session is not None:
            raise FlagaggError("the hello was already sent; a connection is one worker of one dimension")
        self._dim = int(dim)
        try:
            return self._hello()
        except ConnectionRefused as e:
            self._recover(e)  # the connection was lost before the hello: another gateway, with the hello
            return self.session

    def _hello(self):
        dim = self._dim
        hello = {"type": "hello", "version": PROTOCOL_VERSION, "dim": dim}
        if self._slot is not None:
            hello["slot"] = int(self._slot)
        self._send_text(hello)
        msg = self._recv(self._timeout or 60.0)
        if not isinstance(msg, str):
            raise ProtocolViolation("expected the session, got a binary message")
        session = json.loads(msg)
        if session.get("type") == "error":
            raise ControlError(session.get("code"), session.get("reason", ""))
        if session.get("type") != "session":
            raise ProtocolViolation(f"expected the session, got {msg[:200]}")
        if session.get("dim") != dim:
            raise ProtocolViolation(f"session dim {session.get('dim')} differs from the hello's {dim}")
        self.session = session
        self._slot = session.get("slot", self._slot)  # asked for again after a reconnect: worker order is kept
        self._next_round = int(session.get("round", 0))  # after a reconnect: the new server's current round
        self._encoder = fr.Encoder(int(session["chunk_coords"]))
        # One chunk frame is the largest binary message the server may send us from now on; text messages
        # (a round's result carries its record) may take up to 1 MiB, websockets' default.
        limit = max(fr.HEADER_BYTES + 4 * int(session["chunk_coords"]), _MAX_TEXT)
        protocol = getattr(self._ws, "protocol", None)
        for attr in ("max_message_size", "max_size"):  # websockets >= 17, older versions
            if protocol is not None and isinstance(getattr(protocol, attr, None), int):
                setattr(protocol, attr, limit)
                break
        return session

    # -- a round ----------------------------------------------------------------------------------------

    @property
    def next_round(self):
        """The round id to exchange next: the server's current round when this worker joined (a restarted
        worker follows the job, it does not start at 0) or reconnected, then the one after the latest result
        received."""
        return self._next_round

    def exchange(self, round_id, gradient, out=None):
        """Sends this worker's gradient for ``round_id`` and returns the round's aggregate (float32, dim).

        ``round_id`` None: ``next_round``, after reading the results that already arrived. A round id that is
        not the server's (ahead of its schedule, or over before this worker took part) raises RoundRefused at
        once, with the server's reason; ``next_round`` is then the one to use.
        Raises ChunkRejected if the server took this worker out of the round for its chunks (the aggregate
        of the others is on the exception), RoundFailed if the round failed, ConnectionRefused if the server
        closed the connection. A straggler (its round closed before all its chunks arrived) gets the aggregate
        like everyone else; ``last_result["included"]`` is then False.
        Failover (``failover_s`` > 0): a connection found lost before sending is replaced first (then
        ``round_id`` None is the new session's round); one lost during the round is replaced and the round
        raises RoundLost. AggregatorLost if no gateway gives a session within failover_s.
        """
        x = np.ascontiguousarray(gradient, dtype="<f4").reshape(-1)
        if self.session is None:
            self.hello(x.size)
        if round_id is None or not self._open():
            try:
                self._drain()  # results of rounds this worker skipped move next_round on
            except ConnectionRefused as e:
                self._recover(e)  # lost between rounds: nothing of this round was sent yet
        if round_id is None:
            round_id = self._next_round
        s = self.session
        if x.size != s["dim"]:
            raise ValueError(f"gradient has {x.size} values, the session's dim is {s['dim']}")
        if out is None:
            out = np.empty(x.size, dtype=np.float32)
        elif out.shape != (x.size,) or out.dtype != np.float32 or not out.flags.c_contiguous:
            raise ValueError(f"out must be a contiguous float32 array of shape ({x.size},)")
        round_id = int(round_id)
        ranges = fr.chunk_ranges(x.size, int(s["chunk_coords"]))
        if len(ranges) != s["chunks"]:
            raise ProtocolViolation(f"session says {s['chunks']} chunks, dim/chunk_coords gives {len(ranges)}")

        self._incoming.pop(round_id, None)
        self._sending = round_id
        self._out = out
        self._inflight = set()
        self._pending = deque(range(len(ranges)))
        self._rejection = None
        self._closed_early = False
        self._acked_any = False
        self._retries = {}
        timing = {"start": time.monotonic()}
        try:
            self._send_gradient(round_id, x, ranges, int(s["slot"]), max(1, int(s["credits"])))
            timing["sent"] = time.monotonic()
            while round_id not in self._incoming:
                self._handle(self._recv(self._round_timeout()))
            incoming = self._incoming[round_id]
            while not incoming.done():
                self._handle(self._recv(self._round_timeout()))
        except ConnectionRefused as e:
            self._sending = None
            self._recover(e)
            raise RoundLost(round_id, f"aggregator lost: {e}") from e
        finally:
            self._sending = None
            self._out = None
        timing["done"] = time.monotonic()
        self.last_timing = timing
        incoming = self._incoming.pop(round_id)
        result = self.last_result = incoming.result
        if self._rejection is not None:
            code, reason, chunk = self._rejection
            raise ChunkRejected(code, reason, round_id, chunk, result,
                                out if incoming.expected else None)
        if result.get("status") != "completed":
            raise RoundFailed(round_id, result.get("reason", "no reason given"), result)
        return out

    def _send_gradient(self, round_id, x, ranges, slot, credits):
        """Keeps at most ``credits`` chunks unacknowledged; reads what arrived after every send."""
        self._backoff = 0.0
        while self._pending or self._inflight:
            if self._stop_sending(round_id):
                return  # out of the round, or it closed: wait for the result
            while self._pending and len(self._inflight) < credits:
                if self._backoff:
                    time.sleep(self._backoff)  # after a 429; an ack resets it
                i = self._pending.popleft()
                _, offset, count = ranges[i]
                self._send(self._encoder.encode(fr.KIND_GRADIENT, round_id, slot, i, offset,
                                                x[offset:offset + count]))
                self._inflight.add(i)
                self._drain()
                if self._stop_sending(round_id):
                    return
            if self._inflight:
                self._handle(self._recv(self._round_timeout()))

    def _stop_sending(self, round_id):
        return self._rejection is not None or self._closed_early or round_id in self._incoming

    def _round_timeout(self):
        if self._timeout is not None:
            return self._timeout
        s = self.session or {}
        return (s.get("deadline_max_ms", 60000) + s.get("result_timeout_ms", 30000)) / 1000.0 + 30.0

    # -- messages ---------------------------------------------------------------------------------------

    def _open(self):
        return self._ws is not None and self._ws.state is State.OPEN

    def _drain(self):
        """Handles every message that has already arrived, without waiting."""
        if self._ws is None:
            raise FlagaggError("the client is closed")
        while True:
            try:
                msg = self._ws.recv(timeout=0)
            except TimeoutError:
                return
            except ConnectionClosed as e:
                raise _refused(e) from None
            self._handle(msg)

    def _handle(self, msg):
        if isinstance(msg, (bytes, bytearray, memoryview)):
            self._on_aggregate_frame(msg)
            return
        try:
            m = json.loads(msg)
        except ValueError:
            raise ProtocolViolation(f"not JSON: {msg[:200]!r}") from None
        kind = m.get("type")
        if kind == "ack":
            if m.get("round") == self._sending:
                self._inflight.discard(m.get("chunk"))
                self._acked_any = True
                self._backoff = 0.0
        elif kind == "chunk_error":
            self._on_chunk_error(m)
        elif kind == "result":
            self._on_result(m)
        elif kind == "dropped":
            if m.get("round") is not None and m.get("round") == self._sending:
                raise RoundFailed(m["round"], "the server stopped sending its results: " + m.get("reason", ""))
        elif kind == "error":
            raise ControlError(m.get("code"), m.get("reason", ""))
        elif kind == "session":
            raise ProtocolViolation("a second session message")
        # Other types are newer than this client: ignored, as the protocol's versioning allows.

    def _on_chunk_error(self, m):
        round_id, chunk, code = m.get("round"), m.get("chunk"), m.get("code")
        if round_id is None and "chunk" not in m and self._sending is not None:
            round_id = self._sending  # no readable header: it can only be about the frames we are sending
        if round_id != self._sending or round_id in self._incoming or self._rejection is not None:
            return  # a late answer for a round whose result is already here
        self._inflight.discard(chunk)
        reason = m.get("reason", "")
        if code == 429:
            # Over the credits (not this client's doing) or max_open_rounds rounds open at the aggregator:
            # the event-bus table says retry later, so this chunk goes again after a growing pause.
            tries = self._retries.get(chunk, 0) + 1
            self._retries[chunk] = tries
            if tries <= self._retries_429:
                self._pending.appendleft(chunk)
                self._backoff = min(0.5, max(0.005, 2 * self._backoff))
                return
            reason = f"still 429 after {self._retries_429} retries: {reason}"
        if code == _TOO_EARLY or (code == _ROUND_OVER and not self._acked_any):
            raise RoundRefused(code, reason, round_id)  # no result will come for this worker: never wait
        if code in (409, _ROUND_OVER):
            self._closed_early = True  # the round closed before this chunk: a straggler, the result says so
            return
        self._rejection = (code, reason, chunk)

    def _on_result(self, m):
        round_id = m.get("round")
        if isinstance(round_id, int):
            self._next_round = max(self._next_round, round_id + 1)
        ours = round_id == self._sending
        self._incoming[round_id] = _Incoming(m, self._out if ours else None)
        if not ours and self._incoming[round_id].done():
            del self._incoming[round_id]  # a round we did not ask for, with nothing to follow

    def _on_aggregate_frame(self, data):
        try:
            h = fr.parse(data)
        except fr.FrameError as e:
            raise ProtocolViolation(f"bad aggregate frame from the server: {e}") from None
        if h.kind != fr.KIND_AGGREGATE:
            raise ProtocolViolation(f"unexpected frame: kind {h.kind}, round {h.round}, chunk {h.chunk}")
        incoming = self._incoming.get(h.round)
        if incoming is None or incoming.out is None:
            self._stray(h)
        if incoming is None:
            # A round this worker is not exchanging (skipped, or given up): not its business to fail on.
            self._send_text({"type": "ack", "round": h.round, "chunk": h.chunk})
            return
        if incoming.out is not None:
            if h.offset + h.count > incoming.out.size:
                raise ProtocolViolation(f"aggregate chunk {h.chunk} [{h.offset}, +{h.count}) past dim")
            incoming.out[h.offset:h.offset + h.count] = fr.payload(data, h)
        incoming.received.add(h.chunk)
        self._send_text({"type": "ack", "round": h.round, "chunk": h.chunk})
        if incoming.out is None and incoming.done():
            del self._incoming[h.round]

    def _stray(self, h):
        """Counts an aggregate frame of a round this worker is not exchanging, with one warning per round."""
        self.stray_frames += 1
        if h.round != self._last_stray_round:
            self._last_stray_round = h.round
            _LOG.warning("aggregate frames of round %s, which this worker is not exchanging: acknowledged and "
                         "dropped (%d so far)", h.round, self.stray_frames)

    # -- transport --------------------------------------------------------------------------------------

    def _send_text(self, obj):
        self._send(json.dumps(obj))

    def _send(self, data):
        if self._ws is None:
            raise FlagaggError("the client is closed")
        try:
            self._ws.send(data)
        except ConnectionClosed as e:
            raise _refused(e) from None

    def _recv(self, timeout):
        if self._ws is None:
            raise FlagaggError("the client is closed")
        try:
            return self._ws.recv(timeout=timeout)
        except TimeoutError:
            raise RoundTimeout(f"no message from the server in {timeout:.0f} s") from None
        except ConnectionClosed as e:
            raise _refused(e) from None


def _http_refusal(e):
    """A refused upgrade as a ConnectionRefused with the HTTP status and the server's reason: 401 (missing or
    unknown token) with {"error": reason}, or 503 from a standby server."""
    status = e.response.status_code
    body = e.response.body.decode("utf-8", "replace") if e.response.body else ""
    try:
        reason = json.loads(body).get("error", body)
    except (ValueError, AttributeError):
        reason = body
    reason = reason or "HTTP " + str(status)
    return ConnectionRefused(status, reason, f"connection refused: HTTP {status} {reason}")


def _try_another(error, reconnecting):
    """Whether another gateway (or this one, later) may give a session after ``error``."""
    if isinstance(error, ConnectionRefused):
        return (error.code in _TRY_ANOTHER_STATUS or error.code in _TRY_ANOTHER_CLOSE
                or (reconnecting and error.code == _SLOT_TAKEN))
    if isinstance(error, FlagaggError) and not isinstance(error, RoundTimeout):
        return False  # the server answered, and said no (ControlError), or sent nonsense (ProtocolViolation)
    if isinstance(error, ssl.SSLError) and not isinstance(error, ssl.SSLEOFError):
        return False  # an untrusted certificate or a TLS mismatch: configuration, not a lost host
    # Refused, reset or timed out (RoundTimeout: no session in time), or a handshake cut short.
    return isinstance(error, (OSError, InvalidHandshake))


def _backoff_pauses(rng):
    """Pauses between passes over the gateways: 0.2 s doubling up to 5 s, each drawn from [d/2, d] (the
    jitter keeps workers that lost one gateway together from knocking on the next in step)."""
    d = _BACKOFF_FIRST_S
    while True:
        yield rng.uniform(d / 2, d)
        d = min(_BACKOFF_CAP_S, 2 * d)


def _refused(e):
    """The close code and reason as a ConnectionRefused: the server's, else ours (e.g. 1009 when the server
    sent a message over the limit), else 1006 (the connection dropped without a close frame)."""
    rcvd, sent = getattr(e, "rcvd", None), getattr(e, "sent", None)
    if rcvd is not None:
        return ConnectionRefused(rcvd.code, rcvd.reason,
                                 f"connection closed by the server: {rcvd.code} {rcvd.reason}".rstrip())
    if sent is not None:
        return ConnectionRefused(sent.code, sent.reason,
                                 f"connection closed by this client: {sent.code} {sent.reason}".rstrip())
    return ConnectionRefused(1006, "connection lost without a close frame",
                             "connection lost without a close frame (1006)")
