"""The client against a scripted WebSocket server (no jar needed): flow control, acks, every error path.

Each fake server speaks the protocol of docs/protocol.md ("WebSocket workers") from the server's side and
records what it saw; assertion failures inside it are collected and re-raised by the test.
"""
import json
import threading
from http import HTTPStatus

import numpy as np
import pytest
from websockets.sync.server import serve

import flagagg
from flagagg import frame as fr


class FakeServer:
    def __init__(self, script, process_request=None):
        self.script = script
        self.problems = []
        self.seen = {}
        self.backlog = []  # gradient frames that arrived while the fake waited for an ack
        self._server = serve(self._handle, "127.0.0.1", 0, compression=None, max_size=None,
                             process_request=process_request)
        self.url = f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/v1/workers"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _handle(self, ws):
        try:
            self.script(ws, self)
        except AssertionError as e:
            self.problems.append(e)
        except Exception as e:  # the client closing early is fine; anything else is reported
            if "ConnectionClosed" not in type(e).__name__:
                self.problems.append(e)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._thread.join(5)
        if self.problems and exc[0] is None:
            raise self.problems[0]


def session(dim, chunk_coords, credits, slot=0):
    return {"type": "session", "version": 1, "worker": "w0", "slot": slot, "job": "default", "rule": "mean",
            "f": 0, "workers": 1, "dim": dim, "chunk_coords": chunk_coords, "chunks": -(-dim // chunk_coords),
            "quorum": 1, "credits": credits, "deadline_max_ms": 5000, "result_timeout_ms": 5000}


def accept_hello(ws, srv, chunk_coords, credits):
    srv.seen["headers"] = ws.request.headers
    hello = json.loads(ws.recv(timeout=5))
    assert hello["type"] == "hello" and hello["version"] == 1, hello
    s = session(hello["dim"], chunk_coords, credits, hello.get("slot", 0))
    ws.send(json.dumps(s))
    return s


def receive_gradient(ws, srv, s, on_frame=None):
    """Reads gradient frames, acking a batch only once `credits` are unacked (so a client that sent more than
    its credits would be seen), until every chunk is in. on_frame(h) may return a message to send instead."""
    dim, cc, credits = s["dim"], s["chunk_coords"], s["credits"]
    grad = np.full(dim, np.nan, dtype=np.float32)
    got, unacked, most = set(), [], 0
    while len(got) < s["chunks"]:
        data = srv.backlog.pop(0) if srv.backlog else ws.recv(timeout=5)
        assert isinstance(data, bytes), f"expected a gradient frame, got {data!r}"
        h = fr.parse(data)
        assert h.kind == fr.KIND_GRADIENT and h.slot == s["slot"]
        assert h.offset == h.chunk * cc and h.count == min(cc, dim - h.offset)
        reply = on_frame(h) if on_frame else None
        if reply is not None:
            ws.send(json.dumps(reply))
            if reply.get("code") != 429:
                return grad, h
            continue
        grad[h.offset:h.offset + h.count] = fr.payload(data, h)
        got.add(h.chunk)
        unacked.append(h)
        most = max(most, len(unacked))
        if len(unacked) == credits or len(got) == s["chunks"]:
            for u in unacked:
                ws.send(json.dumps({"type": "ack", "round": u.round, "chunk": u.chunk}))
            unacked = []
    srv.seen["most_unacked"] = most
    return grad, None


def next_ack(ws, srv, round_id):
    while True:
        msg = ws.recv(timeout=5)
        if isinstance(msg, bytes):
            srv.backlog.append(msg)  # the client streams its next gradient meanwhile
            continue
        ack = json.loads(msg)
        assert ack["type"] == "ack" and ack["round"] == round_id, ack
        return ack


def send_result(ws, s, round_id, aggregate, status="completed", included=True, reason=None, srv=None):
    """The result, then the aggregate with at most `credits` frames unacknowledged; checks every ack."""
    chunks = fr.chunk_ranges(s["dim"], s["chunk_coords"]) if status == "completed" else []
    result = {"type": "result", "round": round_id, "status": status, "included": included,
              "chunks": len(chunks), "record": {"round": round_id, "status": status}}
    if reason:
        result["reason"] = reason
    ws.send(json.dumps(result))
    unacked = set()
    for i, off, cnt in chunks:
        while len(unacked) >= s["credits"]:
            unacked.remove(next_ack(ws, srv, round_id)["chunk"])
        ws.send(fr.encode(fr.KIND_AGGREGATE, round_id, s["slot"], i, off, aggregate[off:off + cnt]))
        unacked.add(i)
    while unacked:
        unacked.remove(next_ack(ws, srv, round_id)["chunk"])


def gradient(dim, seed=0):
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


def test_round_streams_within_credits_and_returns_the_aggregate():
    dim = 103  # 11 chunks of 10, the last of 3

    def script(ws, srv):
        s = accept_hello(ws, srv, chunk_coords=10, credits=3)
        grad, _ = receive_gradient(ws, srv, s)
        srv.seen["gradient"] = grad
        send_result(ws, s, 7, grad * 2)
        assert json.loads(ws.recv(timeout=5)) == {"type": "bye"}

    x = gradient(dim)
    with FakeServer(script) as srv:
        with flagagg.Client(srv.url, "tok-123") as c:
            agg = c.exchange(7, x)
            assert c.session["slot"] == 0 and c.session["chunks"] == 11
            assert c.last_result["included"] is True
    assert agg.dtype == np.float32 and np.array_equal(agg, x * 2)
    assert np.array_equal(srv.seen["gradient"], x)
    assert srv.seen["most_unacked"] == 3  # the pipeline was full, and never fuller
    assert srv.seen["headers"]["Authorization"] == "Bearer tok-123"
    assert "permessage-deflate" not in srv.seen["headers"].get("Sec-WebSocket-Extensions", "")


def test_two_rounds_on_one_connection_and_float64_input():
    def script(ws, srv):
        s = accept_hello(ws, srv, chunk_coords=4, credits=2)
        for r in (1, 2):
            grad, _ = receive_gradient(ws, srv, s)
            send_result(ws, s, r, grad + r)

    x = np.linspace(-1, 1, 9)  # float64: converted to float32
    with FakeServer(script) as srv, flagagg.Client(srv.url, "t", dim=9, slot=0) as c:
        assert c.session["dim"] == 9
        assert np.array_equal(c.exchange(1, x), x.astype(np.float32) + 1)
        assert np.array_equal(c.exchange(2, x), x.astype(np.float32) + 2)


def test_chunk_error_422_stops_sending_and_raises_after_the_result():
    dim = 30

    def script(ws, srv):
        s = accept_hello(ws, srv, chunk_coords=10, credits=1)
        bad = {"type": "chunk_error", "round": 3, "chunk": 1, "code": 422, "reason": "NaN at coordinate 12"}
        _, h = receive_gradient(ws, srv, s, on_frame=lambda h: bad if h.chunk == 1 else None)
        assert h.chunk == 1
        send_result(ws, s, 3, np.arange(dim, dtype=np.float32), included=False, reason="excluded: NaN")
        # The client sent nothing for the round after the error: the next message is its bye.
        assert json.loads(ws.recv(timeout=5)) == {"type": "bye"}

    with FakeServer(script) as srv, flagagg.Client(srv.url, "t") as c:
        with pytest.raises(flagagg.ChunkRejected) as e:
            c.exchange(3, gradient(dim))
        assert e.value.code == 422 and "NaN" in e.value.reason and e.value.chunk == 1 and e.value.round == 3
        assert e.value.result["included"] is False and c.last_result["reason"] == "excluded: NaN"
        assert np.array_equal(e.value.aggregate, np.arange(dim, dtype=np.float32))
        assert isinstance(e.value, flagagg.ServerError)


def test_429_is_retried():
    dim = 30

    def script(ws, srv):
        s = accept_hello(ws, srv, chunk_coords=10, credits=1)
        seen = []

        def once(h):
            seen.append(h.chunk)
            if h.chunk == 1 and seen.count(1) == 1:
                return {"type": "chunk_error", "round": 0, "chunk": 1, "code": 429, "reason": "credits"}
            return None

        grad, _ = receive_gradient(ws, srv, s, on_frame=once)
        assert seen == [0, 1, 1, 2]
        send_result(ws, s, 0, grad)

    x = gradient(dim, 4)
    with FakeServer(script) as srv, flagagg.Client(srv.url, "t") as c:
        assert np.array_equal(c.exchange(0, x), x)


def test_failed_round_raises_round_failed_with_the_reason():
    def script(ws, srv):
        s = accept_hello(ws, srv, chunk_coords=10, credits=2)
        receive_gradient(ws, srv, s)
        send_result(ws, s, 5, None, status="failed", included=True, reason="the server failed to store a chunk")

    with FakeServer(script) as srv, flagagg.Client(srv.url, "t") as c:
        with pytest.raises(flagagg.RoundFailed) as e:
            c.exchange(5, gradient(25))
        assert "failed to store" in e.value.reason and e.value.result["status"] == "failed"


def test_straggler_gets_the_aggregate_with_included_false():
    dim = 40

    def script(ws, srv):
        s = accept_hello(ws, srv, chunk_coords=10, credits=1)
        closed = {"type": "result"}  # marker: the round closes when chunk 2 arrives
        _, h = receive_gradient(ws, srv, s, on_frame=lambda h: closed if h.chunk == 2 else None)
        send_result(ws, s, 8, np.ones(dim, np.float32), included=False, reason="straggler: 2 of 4 chunks")
        ws.send(json.dumps({"type": "chunk_error", "round": 8, "chunk": 2, "code": 409, "reason": "closed"}))

    # The fake sends a bare {"type": "result"} first: the client must treat a result without round as not its.
    with FakeServer(script) as srv, flagagg.Client(srv.url, "t") as c:
        agg = c.exchange(8, gradient(dim))
        assert np.array_equal(agg, np.ones(dim, np.float32))
        assert c.last_result["included"] is False and c.last_result["reason"].startswith("straggler")


def test_result_of_a_round_we_did_not_send_is_acked_and_skipped():
    dim = 20

    def script(ws, srv):
        s = accept_hello(ws, srv, chunk_coords=10, credits=1)
        send_result(ws, s, 4, np.full(dim, 9, np.float32), srv=srv)  # closed before ours: acks required
        grad, _ = receive_gradient(ws, srv, s)
        send_result(ws, s, 5, grad)

    x = gradient(dim, 2)
    with FakeServer(script) as srv, flagagg.Client(srv.url, "t", dim=dim) as c:
        assert np.array_equal(c.exchange(5, x), x)


def test_aggregate_frames_of_an_unknown_round_are_acked_dropped_and_counted(caplog):
    dim = 20

    def script(ws, srv):
        s = accept_hello(ws, srv, chunk_coords=10, credits=2)
        grad, _ = receive_gradient(ws, srv, s)
        # Frames of round 3, whose result this worker never saw: the client must ack them and go on.
        for i in range(2):
            ws.send(fr.encode(fr.KIND_AGGREGATE, 3, s["slot"], i, 10 * i, np.full(10, 7, np.float32)))
        srv.seen["stray_acks"] = [next_ack(ws, srv, 3)["chunk"] for _ in range(2)]
        send_result(ws, s, 5, grad * 3, srv=srv)

    x = gradient(dim, 4)
    with caplog.at_level("WARNING", logger="flagagg"):
        with FakeServer(script) as srv, flagagg.Client(srv.url, "t", dim=dim) as c:
            agg = c.exchange(5, x)
            assert c.stray_frames == 2
    assert np.array_equal(agg, x * 3)  # the stray frames (all 7s) went nowhere
    assert sorted(srv.seen["stray_acks"]) == [0, 1]
    assert [r.getMessage() for r in caplog.records if "round 3" in r.getMessage()] == [
        "aggregate frames of round 3, which this worker is not exchanging: acknowledged and dropped (1 so far)"]


def test_close_4401_at_connect_is_a_connection_refused_with_code_and_reason():
    def script(ws, srv):
        ws.close(4401, "unknown or revoked token")

    with FakeServer(script) as srv:
        with pytest.raises(flagagg.ConnectionRefused) as e:
            flagagg.Client(srv.url, "bad", dim=10)
        assert e.value.code == 4401 and e.value.reason == "unknown or revoked token"
        assert "4401" in str(e.value)
        # Without dim the hello waits for the first exchange, which raises the same way.
        c = flagagg.Client(srv.url, "bad")
        with pytest.raises(flagagg.ConnectionRefused) as e:
            c.exchange(0, np.zeros(10, np.float32))
        assert e.value.code == 4401
        c.close()


@pytest.mark.parametrize("body, reason", [
    ("no token\n", "no token\n"),
    # What the server sends: the reason is the JSON body's "error".
    ('{"error":"unknown or revoked token"}', "unknown or revoked token"),
])
def test_http_refusal_of_the_upgrade_is_a_connection_refused_with_the_reason(body, reason):
    def refuse(connection, request):
        return connection.respond(HTTPStatus.UNAUTHORIZED, body)

    with FakeServer(lambda ws, srv: None, process_request=refuse) as srv:
        with pytest.raises(flagagg.ConnectionRefused) as e:
            flagagg.Client(srv.url, "bad")
        assert e.value.code == 401 and e.value.reason == reason
        assert "401" in str(e.value)


def test_close_mid_round_raises_with_the_close_code():
    def script(ws, srv):
        s = accept_hello(ws, srv, chunk_coords=10, credits=2)
        ws.recv(timeout=5)
        ws.close(4408, "aggregate chunk 0 of round 1 not acknowledged within 5000 ms")

    with FakeServer(script) as srv, flagagg.Client(srv.url, "t") as c:
        with pytest.raises(flagagg.ConnectionRefused) as e:
            c.exchange(1, gradient(50))
        assert e.value.code == 4408 and "not acknowledged" in e.value.reason


def test_control_error_raises_control_error():
    def script(ws, srv):
        s = accept_hello(ws, srv, chunk_coords=10, credits=2)
        ws.recv(timeout=5)
        ws.send(json.dumps({"type": "error", "code": 400, "reason": "unknown message type 'x'"}))
        ws.recv(timeout=5)

    with FakeServer(script) as srv, flagagg.Client(srv.url, "t") as c:
        with pytest.raises(flagagg.ControlError) as e:
            c.exchange(1, gradient(50))
        assert e.value.code == 400 and "unknown message type" in e.value.reason


def test_corrupt_aggregate_frame_is_a_protocol_violation():
    def script(ws, srv):
        s = accept_hello(ws, srv, chunk_coords=10, credits=2)
        receive_gradient(ws, srv, s)
        ws.send(json.dumps({"type": "result", "round": 1, "status": "completed", "included": True, "chunks": 1,
                            "record": {}}))
        f = bytearray(fr.encode(fr.KIND_AGGREGATE, 1, 0, 0, 0, np.ones(10, np.float32)))
        f[-1] ^= 0x40
        ws.send(bytes(f))
        ws.recv(timeout=5)

    with FakeServer(script) as srv, flagagg.Client(srv.url, "t") as c:
        with pytest.raises(flagagg.ProtocolViolation, match="BAD_CRC"):
            c.exchange(1, gradient(10))


def test_wrong_gradient_size_is_refused_before_sending():
    def script(ws, srv):
        accept_hello(ws, srv, chunk_coords=10, credits=2)
        ws.recv(timeout=5)

    with FakeServer(script) as srv, flagagg.Client(srv.url, "t", dim=10) as c:
        with pytest.raises(ValueError, match="dim is 10"):
            c.exchange(1, np.zeros(11, np.float32))


def test_409_before_the_result_stops_sending_and_returns_the_aggregate():
    dim = 50

    def script(ws, srv):
        s = accept_hello(ws, srv, chunk_coords=10, credits=1)
        late = {"type": "chunk_error", "round": 2, "chunk": 1, "code": 409, "reason": "round 2 is closed"}
        _, h = receive_gradient(ws, srv, s, on_frame=lambda h: late if h.chunk == 1 else None)
        send_result(ws, s, 2, np.full(dim, 3, np.float32), included=False, reason="straggler: 1 of 5 chunks")
        assert json.loads(ws.recv(timeout=5)) == {"type": "bye"}  # chunks 2..4 were never sent

    with FakeServer(script) as srv, flagagg.Client(srv.url, "t") as c:
        agg = c.exchange(2, gradient(dim))
        assert np.array_equal(agg, np.full(dim, 3, np.float32)) and c.last_result["included"] is False


def test_chunk_error_without_a_header_takes_the_worker_out():
    def script(ws, srv):
        s = accept_hello(ws, srv, chunk_coords=10, credits=1)
        ws.recv(timeout=5)
        ws.send(json.dumps({"type": "chunk_error", "code": 400, "reason": "TRUNCATED: 12 bytes"}))
        send_result(ws, s, 6, np.zeros(20, np.float32), included=False, reason="excluded: malformed frame")

    with FakeServer(script) as srv, flagagg.Client(srv.url, "t") as c:
        with pytest.raises(flagagg.ChunkRejected) as e:
            c.exchange(6, gradient(20))
        assert e.value.code == 400 and "TRUNCATED" in e.value.reason
