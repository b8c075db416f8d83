"""Issue 17 from the Python client's side: a list of gateway URLs, reconnecting with back-off after a lost
connection (or a standby's 503), resuming at the new session's round, and giving up after failover_s.
Against the scripted servers of test_client_fake_server (no jar needed)."""
import json
import random
import socket
import threading
import time
from http import HTTPStatus

import numpy as np
import pytest

import flagagg
from flagagg import client as fc
from test_client_fake_server import FakeServer, gradient, receive_gradient, send_result, session

DIM = 30
STANDBY = "this server is a standby of job default"


def dead_url():
    """A gateway whose host is gone: nothing listens on the port (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"ws://127.0.0.1:{port}/v1/workers"


def drop(ws):
    """The gateway's host dies: the TCP connection ends without a close frame (the client sees 1006)."""
    ws.socket.shutdown(socket.SHUT_RDWR)


def join(ws, srv, round_id, slot=2, credits=1):
    """Reads the hello (recording it) and answers with a session at ``round_id``."""
    hello = json.loads(ws.recv(timeout=5))
    srv.seen.setdefault("hellos", []).append(hello)
    s = {**session(hello["dim"], 10, credits, slot), "round": round_id}
    ws.send(json.dumps(s))
    return s


def upgrades(refusals=0, status=HTTPStatus.SERVICE_UNAVAILABLE, body=STANDBY):
    """A process_request that counts upgrade requests in ``counter`` and refuses the first ``refusals``."""
    counter = []

    def process_request(connection, request):
        counter.append(request.path)
        if len(counter) <= refusals:
            return connection.respond(status, body)
        return None

    return process_request, counter


def dies_with_its_first_connection():
    """process_request of a gateway whose host dies with its first connection: later upgrades are refused
    (503, so each attempt is seen to fail at once rather than waiting for a TCP timeout)."""
    served = []

    def process_request(connection, request):
        served.append(request.path)
        return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, STANDBY) if len(served) > 1 else None

    return process_request


def serve_rounds(first_round, rounds=1, slot=2):
    """A gateway that gives a session at ``first_round`` and serves ``rounds`` rounds (aggregate = 2 x gradient),
    recording each gradient in seen["grads"]."""
    def script(ws, srv):
        s = join(ws, srv, first_round, slot)
        for r in range(first_round, first_round + rounds):
            grad, _ = receive_gradient(ws, srv, s)
            srv.seen.setdefault("grads", []).append((r, grad))
            send_result(ws, s, r, grad * 2, srv=srv)
        ws.recv(timeout=5)  # the bye

    return script


@pytest.mark.parametrize("when", ["sending", "waiting for the result"])
def test_a_lost_gateway_mid_round_fails_the_round_and_the_next_goes_to_the_other(when):
    def first(ws, srv):
        s = join(ws, srv, 3)
        if when == "sending":
            ws.recv(timeout=5)  # one gradient frame of round 3 (credits 1: the client waits for its ack)
        else:
            receive_gradient(ws, srv, s)  # all of it, acknowledged
        drop(ws)

    x = gradient(DIM, 1)
    with FakeServer(first, process_request=dies_with_its_first_connection()) as a, FakeServer(serve_rounds(9)) as b:
        with flagagg.Client([a.url, b.url], "t", dim=DIM, failover_s=30) as c:
            assert c.url == a.url and c.next_round == 3
            with pytest.raises(flagagg.RoundLost) as e:
                c.exchange(None, x)
            assert e.value.round == 3 and e.value.reason.startswith("aggregator lost")
            assert "1006" in e.value.reason and isinstance(e.value, flagagg.RoundFailed)
            # The new session: the other gateway, the server's current round, the same slot.
            assert c.url == b.url and c.next_round == 9 and c.session["slot"] == 2
            assert np.array_equal(c.exchange(None, x), x * 2) and c.last_result["round"] == 9
    assert b.seen["hellos"] == [{"type": "hello", "version": 1, "dim": DIM, "slot": 2}]
    assert [r for r, _ in b.seen["grads"]] == [9] and np.array_equal(b.seen["grads"][0][1], x)


def test_a_connection_lost_between_rounds_is_replaced_before_sending_without_an_error():
    closed = threading.Event()

    def first(ws, srv):
        s = join(ws, srv, 0)
        grad, _ = receive_gradient(ws, srv, s)
        send_result(ws, s, 0, grad, srv=srv)
        drop(ws)
        closed.set()

    x = gradient(DIM, 2)
    with FakeServer(first, process_request=dies_with_its_first_connection()) as a, FakeServer(serve_rounds(5)) as b:
        with flagagg.Client([a.url, b.url], "t", dim=DIM, failover_s=30) as c:
            assert np.array_equal(c.exchange(None, x), x)
            assert closed.wait(5)
            # websockets' reader thread ends once it has seen the connection end: then the client can know.
            c._ws.recv_events_thread.join(5)
            assert not c._ws.recv_events_thread.is_alive()
            assert np.array_equal(c.exchange(None, x), x * 2)  # no RoundLost: nothing of it was sent before
            assert c.url == b.url and c.last_result["round"] == 5 and c.next_round == 6


def test_a_standby_answering_503_is_tried_again_until_it_accepts():
    process_request, requests = upgrades(refusals=2)
    x = gradient(DIM, 3)
    with FakeServer(serve_rounds(4), process_request=process_request) as standby:
        # The first URL's host is gone, the second is a standby for two attempts, then the active server.
        with flagagg.Client([dead_url(), standby.url], "t", dim=DIM, failover_s=30) as c:
            assert c.url == standby.url and c.next_round == 4
            assert np.array_equal(c.exchange(None, x), x * 2)
    assert len(requests) == 3


def test_a_4409_while_reconnecting_is_tried_again():
    """The old connection may still hold the slot on a surviving gateway: 4409 is worth another try then."""
    def first(ws, srv):
        join(ws, srv, 1)
        ws.recv(timeout=5)
        drop(ws)

    def second(ws, srv):
        srv.seen["connections"] = srv.seen.get("connections", 0) + 1
        if srv.seen["connections"] == 1:
            srv.seen.setdefault("hellos", []).append(json.loads(ws.recv(timeout=5)))
            ws.close(4409, "slot 2 is taken")  # instead of the session
            return
        serve_rounds(2)(ws, srv)

    x = gradient(DIM, 4)
    with FakeServer(first, process_request=dies_with_its_first_connection()) as a, FakeServer(second) as b:
        with flagagg.Client([a.url, b.url], "t", dim=DIM, failover_s=30) as c:
            with pytest.raises(flagagg.RoundLost):
                c.exchange(None, x)
            assert c.url == b.url and np.array_equal(c.exchange(None, x), x * 2)
    assert b.seen["connections"] == 2 and [h["slot"] for h in b.seen["hellos"]] == [2, 2]


def test_no_session_within_failover_s_raises_aggregator_lost_naming_the_urls_and_the_last_error():
    process_request, requests = upgrades(refusals=10**6)
    failover_s = 1.0
    with FakeServer(lambda ws, srv: None, process_request=process_request) as standby:
        urls = [dead_url(), standby.url]
        t0 = time.monotonic()
        with pytest.raises(flagagg.AggregatorLost) as e:
            flagagg.Client(urls, "t", dim=DIM, failover_s=failover_s)
        elapsed = time.monotonic() - t0
    assert failover_s <= elapsed < failover_s + 5  # it tries until failover_s has passed, and not much longer
    assert e.value.urls == tuple(urls) and all(u in str(e.value) for u in urls)
    assert e.value.last_error.code == 503 and STANDBY in str(e.value)
    assert e.value.attempts >= 2 and len(requests) >= 1
    assert isinstance(e.value, flagagg.FlagaggError) and not isinstance(e.value, flagagg.ServerError)


def test_a_lost_connection_with_nowhere_to_go_raises_aggregator_lost_and_closes_the_client():
    lost = threading.Event()  # from then on the only gateway answers as a standby

    def only(ws, srv):
        join(ws, srv, 0)
        ws.recv(timeout=5)
        lost.set()
        drop(ws)

    def process_request(connection, request):
        return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, STANDBY) if lost.is_set() else None

    with FakeServer(only, process_request=process_request) as a:
        c = flagagg.Client(a.url, "t", dim=DIM, failover_s=0.5)
        with pytest.raises(flagagg.AggregatorLost) as e:
            c.exchange(None, gradient(DIM))
        assert e.value.last_error.code == 503 and e.value.__cause__ is e.value.last_error
        assert isinstance(e.value.__context__, flagagg.ConnectionRefused)  # the loss it could not recover from
        with pytest.raises(flagagg.FlagaggError, match="closed"):
            c.exchange(None, gradient(DIM))
        c.close()


def test_failover_s_0_keeps_the_old_behaviour_a_lost_connection_raises_connection_refused():
    def first(ws, srv):
        join(ws, srv, 0)
        ws.recv(timeout=5)
        drop(ws)

    with FakeServer(first) as a, FakeServer(serve_rounds(0)) as b:
        with flagagg.Client([a.url, b.url], "t", dim=DIM, failover_s=0) as c:
            with pytest.raises(flagagg.ConnectionRefused) as e:
                c.exchange(None, gradient(DIM))
            assert e.value.code == 1006 and not isinstance(e.value, flagagg.RoundFailed)
            assert c.url == a.url
    assert "hellos" not in b.seen


@pytest.mark.parametrize("refusal, code", [
    ("http", 401),
    ("close", 4400),
    ("close", 4403),
    ("close", 4409),  # at the start, a token in use is another worker's mistake, not a closing connection
])
def test_final_refusals_raise_at_once_and_no_other_gateway_is_tried(refusal, code):
    if refusal == "http":
        process_request, requests = upgrades(refusals=1, status=HTTPStatus.UNAUTHORIZED,
                                             body='{"error":"unknown or revoked token"}')
        script = lambda ws, srv: None  # noqa: E731
    else:
        process_request, requests = upgrades()

        def script(ws, srv):
            ws.recv(timeout=5)
            ws.close(code, "refused")

    other_requests = upgrades()
    with FakeServer(script, process_request=process_request) as a, \
            FakeServer(serve_rounds(0), process_request=other_requests[0]) as b:
        t0 = time.monotonic()
        with pytest.raises(flagagg.ConnectionRefused) as e:
            flagagg.Client([a.url, b.url], "t", dim=DIM, failover_s=30)
        assert time.monotonic() - t0 < 5
    assert e.value.code == code
    assert len(requests) == 1 and other_requests[1] == []


def test_the_back_off_doubles_from_0_2_s_to_5_s_with_jitter():
    pauses = fc._backoff_pauses(random.Random(17))
    drawn = [next(pauses) for _ in range(9)]
    for p, d in zip(drawn, [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0, 5.0]):
        assert d / 2 <= p <= d
    assert len(set(drawn)) == len(drawn)  # jittered, not a fixed schedule


def test_bad_url_arguments_are_refused():
    with pytest.raises(ValueError, match="URL"):
        flagagg.Client([], "t")
    with pytest.raises(ValueError, match="failover_s"):
        flagagg.Client("ws://127.0.0.1:1/v1/workers", "t", failover_s=-1)


def test_a_tls_failure_is_final_but_a_tls_handshake_cut_short_is_not():
    import ssl

    assert not fc._try_another(ssl.SSLCertVerificationError("certificate verify failed"), reconnecting=True)
    assert not fc._try_another(ssl.SSLError("wrong version number"), reconnecting=True)
    assert fc._try_another(ssl.SSLEOFError("EOF occurred in violation of protocol"), reconnecting=True)
    assert fc._try_another(ConnectionResetError(), reconnecting=False)
    assert fc._try_another(flagagg.RoundTimeout("no session"), reconnecting=False)
    assert not fc._try_another(flagagg.ControlError(400, "bad"), reconnecting=True)
    assert not fc._try_another(flagagg.ProtocolViolation("nonsense"), reconnecting=True)


def test_a_connection_closed_during_the_opening_handshake_tries_the_next_gateway(monkeypatch):
    # websockets raises ConnectionClosedError (not InvalidHandshake) when the server drops the TCP connection
    # while the handshake is under way: a gateway whose server just died. Seen in the multi-host failover test.
    from websockets.exceptions import ConnectionClosedError
    real = fc.connect
    calls = []

    def connect(url, **kwargs):
        calls.append(url)
        if len(calls) == 1:
            raise ConnectionClosedError(None, None)
        return real(url, **kwargs)

    monkeypatch.setattr(fc, "connect", connect)
    x = gradient(DIM, 5)
    with FakeServer(serve_rounds(7)) as active:
        with flagagg.Client([dead_url(), active.url], "t", dim=DIM, failover_s=30) as c:
            assert c.url == active.url and c.next_round == 7
            assert np.array_equal(c.exchange(None, x), x * 2)
    assert len(calls) == 2
