"""Issue 14, items 3 and 4, from the Python client's side: the server owns the round ids (the client follows the
session's current round and every result, and raises at once when the server refuses a round id) and may stop
a round's result stream ("dropped"). Against the scripted server of test_client_fake_server (no jar needed)."""
import json
import time

import numpy as np
import pytest

import flagagg
from test_client_fake_server import FakeServer, accept_hello, gradient, receive_gradient, send_result, session


def test_the_client_follows_the_sessions_round_and_every_result():
    dim = 20

    def script(ws, srv):
        hello = json.loads(ws.recv(timeout=5))
        s = {**session(hello["dim"], 10, 2), "round": 41}  # a worker joining a job under way
        ws.send(json.dumps(s))
        rounds = srv.seen.setdefault("rounds", [])
        grad, _ = receive_gradient(ws, srv, s, on_frame=lambda h: rounds.append(h.round))
        send_result(ws, s, 41, grad)
        grad, _ = receive_gradient(ws, srv, s, on_frame=lambda h: rounds.append(h.round))
        send_result(ws, s, 50, None, status="failed", reason="a round this worker was not part of")
        send_result(ws, s, 42, grad)

    x = gradient(dim, 1)
    with FakeServer(script) as srv, flagagg.Client(srv.url, "t", dim=dim) as c:
        assert c.next_round == 41
        assert np.array_equal(c.exchange(None, x), x) and c.last_result["round"] == 41
        assert c.next_round == 42
        assert np.array_equal(c.exchange(None, x), x) and c.last_result["round"] == 42
        assert c.next_round == 51  # past round 50's result, which came meanwhile
    assert set(srv.seen["rounds"]) == {41, 42}


@pytest.mark.parametrize("code, reason", [
    (425, "round 1000000000000 is ahead of the job's schedule; the current round is 3"),
    (410, "round 0 is over; the current round is 3"),
])
def test_a_refused_round_id_raises_at_once(code, reason):
    def script(ws, srv):
        accept_hello(ws, srv, chunk_coords=10, credits=2)
        data = ws.recv(timeout=5)
        round_id = int.from_bytes(data[8:16], "little")
        ws.send(json.dumps({"type": "chunk_error", "round": round_id, "chunk": 0, "code": code, "reason": reason}))
        # No result ever follows: the client must not wait for one; it says bye after the frames in flight.
        while not isinstance(msg := ws.recv(timeout=5), str):
            pass
        assert json.loads(msg) == {"type": "bye"}

    # Before, 409/410 was swallowed and the client waited for a result that never came (65-290 s).
    with FakeServer(script) as srv, flagagg.Client(srv.url, "t", timeout=30) as c:
        t0 = time.monotonic()
        with pytest.raises(flagagg.RoundRefused) as e:
            c.exchange(10**12 if code == 425 else 0, gradient(40))
        assert time.monotonic() - t0 < 5
        assert e.value.code == code and "the current round is 3" in e.value.reason


def test_410_after_an_acked_chunk_is_a_straggler_that_gets_the_result():
    dim = 30

    def script(ws, srv):
        s = accept_hello(ws, srv, chunk_coords=10, credits=1)
        over = {"type": "chunk_error", "round": 4, "chunk": 1, "code": 410, "reason": "round 4 is over"}
        receive_gradient(ws, srv, s, on_frame=lambda h: over if h.chunk == 1 else None)
        send_result(ws, s, 4, np.full(dim, 2, np.float32), included=False, reason="straggler: 1 of 3 chunks")

    with FakeServer(script) as srv, flagagg.Client(srv.url, "t") as c:
        agg = c.exchange(4, gradient(dim))
        assert np.array_equal(agg, np.full(dim, 2, np.float32)) and c.last_result["included"] is False


def test_a_dropped_result_stream_raises_round_failed_with_the_reason():
    dim = 30

    def script(ws, srv):
        s = accept_hello(ws, srv, chunk_coords=10, credits=1)
        grad, _ = receive_gradient(ws, srv, s)
        ws.send(json.dumps({"type": "result", "round": 2, "status": "completed", "included": True, "chunks": 3,
                            "record": {"round": 2}}))
        ws.send(json.dumps({"type": "dropped", "round": 2, "code": 408,
                            "reason": "round 2's results not acknowledged within 5000 ms of its close"}))

    with FakeServer(script) as srv, flagagg.Client(srv.url, "t", timeout=30) as c:
        with pytest.raises(flagagg.RoundFailed) as e:
            c.exchange(2, gradient(dim))
        assert "not acknowledged within 5000 ms" in e.value.reason


def test_against_the_server_a_restarted_worker_follows_its_round_and_bad_ids_raise_at_once(start_server):
    """The real server (the jar): round 10^12 and a restart at round 0 are refused at once; next_round works."""
    srv = start_server(rule="mean", workers=1, dim=10)
    x = np.arange(10, dtype=np.float32)
    with flagagg.Client(srv.url, srv.token(0), dim=10) as c:
        assert c.next_round == 0
        t0 = time.monotonic()
        with pytest.raises(flagagg.RoundRefused) as e:
            c.exchange(10**12, x)
        assert time.monotonic() - t0 < 5 and e.value.code == 425 and "the current round is 0" in e.value.reason
        for r in range(2):
            assert np.array_equal(c.exchange(None, x), x) and c.last_result["round"] == r
    with flagagg.Client(srv.url, srv.token(0), dim=10) as restarted:  # the same worker, restarted
        assert restarted.session["round"] == 2 and restarted.next_round == 2
        t0 = time.monotonic()
        with pytest.raises(flagagg.RoundRefused) as e:
            restarted.exchange(0, x)
        assert time.monotonic() - t0 < 5 and e.value.code == 410 and "the current round is 2" in e.value.reason
        assert np.array_equal(restarted.exchange(None, x + 1), x + 1) and restarted.last_result["round"] == 2
