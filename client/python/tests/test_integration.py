"""The client against the real server (target/flagagg.jar): rounds, offline agreement, refusals, exclusion."""
import threading

import numpy as np
import pytest

import flagagg

from conftest import offline_aggregate, run_workers

# Three chunks of 65536 coordinates (256 KiB, smaller than the default), the last one short.
DIM = 2 * 65536 + 4321
CHUNK = ["--chunk-coords", "65536"]


def honest_gradients(p, dim, seed):
    """p noisy copies of one direction, so robust rules have something to agree on."""
    rng = np.random.default_rng(seed)
    base = rng.standard_normal(dim)
    return [(base + 0.5 * rng.standard_normal(dim)).astype(np.float32) for _ in range(p)]


def exchange_all(srv, rounds):
    """Every worker (slot i = token i) exchanges its gradient for each round; returns [worker][round] results."""
    def worker(i):
        out = []
        with flagagg.Client(srv.url, srv.token(i), slot=i) as c:
            assert c.session is None
            for round_id, grads in rounds:
                agg = c.exchange(round_id, grads[i])
                assert c.session["slot"] == i
                out.append((agg.copy(), dict(c.last_result)))
        return out

    results, errors = run_workers([lambda i=i: worker(i) for i in range(srv.workers)])
    for e in errors:
        if e is not None:
            raise e
    return results


@pytest.mark.parametrize("rule", ["mean", "flag"])
def test_round_matches_the_offline_aggregate(start_server, jar, tmp_path, rule):
    p = 5
    srv = start_server(rule=rule, workers=p, dim=DIM, args=CHUNK)
    round1 = honest_gradients(p, DIM, seed=1)
    round2 = honest_gradients(p, DIM, seed=2)
    round2[4] = (-10 * round2[4]).astype(np.float32)  # one attacker in the second round
    results = exchange_all(srv, [(None, round1), (None, round2)])  # the server's rounds 0, 1

    for r, grads in enumerate([round1, round2]):
        expected = offline_aggregate(jar, tmp_path, np.stack(grads), rule)
        for worker in range(p):
            agg, result = results[worker][r]
            assert result["status"] == "completed" and result["included"] is True
            assert result["round"] == r
            np.testing.assert_allclose(agg, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
        # Every worker got the same bytes.
        assert all(np.array_equal(results[w][r][0], results[0][r][0]) for w in range(p))
    if rule == "mean":
        np.testing.assert_allclose(results[0][0][0], np.mean(np.stack(round1), axis=0, dtype=np.float64),
                                   rtol=1e-6, atol=1e-6)


def test_bad_token_is_refused_with_http_401_before_the_upgrade(start_server):
    srv = start_server(rule="mean", workers=1, dim=10)
    with pytest.raises(flagagg.ConnectionRefused) as e:
        flagagg.Client(srv.url, "not-a-token", dim=10)
    assert e.value.code == 401 and e.value.reason == "unknown or revoked token"
    with pytest.raises(flagagg.ConnectionRefused) as e:
        flagagg.Client(srv.url, "", dim=10)
    assert e.value.code == 401 and "token" in e.value.reason


def test_second_connection_with_one_token_is_refused_with_4409(start_server):
    srv = start_server(rule="mean", workers=1, dim=10)
    with flagagg.Client(srv.url, srv.token(0), dim=10) as first:
        with pytest.raises(flagagg.ConnectionRefused) as e:
            flagagg.Client(srv.url, srv.token(0), dim=10)
        assert e.value.code == 4409
        agg = first.exchange(0, np.arange(10, dtype=np.float32))  # the first one is unaffected
        assert np.array_equal(agg, np.arange(10, dtype=np.float32))


def test_wrong_dimension_is_refused(start_server):
    srv = start_server(rule="mean", workers=1, dim=10)
    with pytest.raises(flagagg.ConnectionRefused) as e:
        flagagg.Client(srv.url, srv.token(0), dim=11)
    assert e.value.code == 4400 and "11" in e.value.reason


def test_nan_gradient_excludes_that_worker_and_the_round_completes(start_server, jar, tmp_path):
    p = 3
    # Quorum 2: the round may close without the excluded worker (the default quorum is every worker).
    srv = start_server(rule="mean", workers=p, dim=DIM, args=[*CHUNK, "--quorum", "2"])
    grads = honest_gradients(p, DIM, seed=3)
    grads[1][70000] = np.nan  # in chunk 1
    round2 = honest_gradients(p, DIM, seed=4)

    def worker(i):
        with flagagg.Client(srv.url, srv.token(i), slot=i) as c:
            try:
                first = ("ok", c.exchange(0, grads[i]).copy(), c.last_result)
            except flagagg.ChunkRejected as e:
                first = ("rejected", e, c.last_result)
            second = c.exchange(1, round2[i]).copy(), c.last_result  # the excluded worker is back next round
        return first, second

    results, errors = run_workers([lambda i=i: worker(i) for i in range(p)])
    assert errors == [None] * p, errors
    honest_mean = offline_aggregate(jar, tmp_path, np.stack(grads), "mean")  # drops the NaN gradient
    np.testing.assert_allclose(honest_mean, (grads[0].astype(np.float64) + grads[2]) / 2, rtol=1e-6, atol=1e-6)

    kind, err, result = results[1][0]
    assert kind == "rejected" and err.code == 422 and err.round == 0
    assert result["included"] is False and result["status"] == "completed"
    np.testing.assert_allclose(err.aggregate, honest_mean, rtol=1e-6, atol=1e-6)
    for i in (0, 2):
        kind, agg, result = results[i][0]
        assert kind == "ok" and result["included"] is True
        np.testing.assert_allclose(agg, honest_mean, rtol=1e-6, atol=1e-6)
    assert "worker-1" in result["record"]["excluded"]

    expected2 = offline_aggregate(jar, tmp_path, np.stack(round2), "mean")
    for i in range(p):
        agg, result = results[i][1]
        assert result["included"] is True
        np.testing.assert_allclose(agg, expected2, rtol=1e-6, atol=1e-6)


def test_wss_round_with_a_test_key_store(start_server, tmp_path):
    """TLS: a self-signed key store made with keytool, trusted by the client's ssl_context."""
    import shutil
    import ssl
    import subprocess

    keytool = shutil.which("keytool")
    if keytool is None:
        pytest.skip("keytool (JDK) not on PATH")
    ks, pem = tmp_path / "ks.p12", tmp_path / "cert.pem"
    subprocess.run([keytool, "-genkeypair", "-alias", "flagagg", "-keyalg", "EC", "-groupname", "secp256r1",
                    "-dname", "CN=localhost", "-ext", "SAN=dns:localhost,ip:127.0.0.1", "-validity", "2",
                    "-storetype", "PKCS12", "-keystore", str(ks), "-storepass", "test-pass", "-keypass",
                    "test-pass"], check=True, capture_output=True, timeout=60)
    subprocess.run([keytool, "-exportcert", "-rfc", "-alias", "flagagg", "-keystore", str(ks), "-storepass",
                    "test-pass", "-file", str(pem)], check=True, capture_output=True, timeout=60)
    srv = start_server(rule="mean", workers=2, dim=DIM,
                       args=[*CHUNK, "--tls-keystore", str(ks), "--tls-password", "test-pass"])
    assert srv.url.startswith("wss://")
    context = ssl.create_default_context(cafile=str(pem))
    grads = honest_gradients(2, DIM, seed=5)

    def worker(i):
        with flagagg.Client(srv.url, srv.token(i), ssl_context=context) as c:
            return c.exchange(0, grads[i])

    results, errors = run_workers([lambda i=i: worker(i) for i in range(2)])
    assert errors == [None, None], errors
    expected = (grads[0].astype(np.float64) + grads[1]) / 2
    for agg in results:
        np.testing.assert_allclose(agg, expected, rtol=1e-6, atol=1e-6)
    # Without trusting the certificate the handshake fails.
    with pytest.raises(ssl.SSLError):
        flagagg.Client(srv.url, srv.token(0))


def test_a_killed_server_mid_round_the_worker_carries_on_at_the_other_gateway(start_server):
    """kill -9 of the server while its round waits: the client sees the real gateway's connection end,
    raises RoundLost and has a session on the other server. Two independent servers sharing the token stand in
    for a job's active server and the standby that took it over (the real take-over is the server's tests')."""
    dim = 10
    # Two workers and a fixed 120 s deadline: with one worker connected the round stays open until the kill.
    active = start_server(rule="mean", workers=2, dim=dim, args=["--deadline-ms", "120000"])
    token = active.token(0)
    other = start_server(rule="mean", workers=1, dim=dim, tokens={"worker-0": token})
    x = np.arange(dim, dtype=np.float32)
    c = flagagg.Client([active.url, other.url], token, dim=dim, failover_s=30)
    waiting = threading.Event()
    recv = c._recv

    def recv_noting_the_wait(timeout):
        if c._sending is not None and not c._pending and not c._inflight:
            waiting.set()  # every chunk acknowledged: the round is open at the server, waiting for worker-1
        return recv(timeout)

    c._recv = recv_noting_the_wait
    outcome = {}

    def work():
        try:
            outcome["aggregate"] = c.exchange(None, x)
        except BaseException as e:  # noqa: B902 - handed to the test thread
            outcome["error"] = e

    t = threading.Thread(target=work, daemon=True)
    t.start()
    assert waiting.wait(60), "the round never reached its wait for the result"
    active.proc.kill()
    t.join(60)
    assert not t.is_alive()
    e = outcome.get("error")
    assert isinstance(e, flagagg.RoundLost), outcome
    assert e.round == 0 and e.reason.startswith("aggregator lost") and "1006" in e.reason
    assert c.url == other.url and c.next_round == 0 and c.session["slot"] == 0
    assert np.array_equal(c.exchange(None, x), x) and c.last_result["round"] == 0
    c.close()
