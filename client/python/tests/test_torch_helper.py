"""flagagg.torch: flattening in parameter order, writing back in place, and one exchange through the server."""
import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install torch)")

import flagagg  # noqa: E402
from flagagg.torch import exchange_grads, flat_grads, set_flat_grads  # noqa: E402

from conftest import run_workers  # noqa: E402


def model_with_grads(seed):
    torch.manual_seed(0)  # same weights in every worker
    model = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(8, 5, generator=g), torch.randint(0, 3, (8,), generator=g)
    torch.nn.functional.cross_entropy(model(x), y).backward()
    return model


def test_flat_grads_is_the_parameter_order_concatenation():
    model = model_with_grads(1)
    expected = np.concatenate([p.grad.numpy().ravel() for p in model.parameters()])
    flat = flat_grads(model)
    assert flat.dtype == np.float32 and np.array_equal(flat, expected)
    assert flat.size == 5 * 4 + 4 + 4 * 3 + 3


def test_set_flat_grads_writes_in_place_and_fills_missing_grads():
    model = model_with_grads(1)
    model[2].bias.grad = None
    grads_before = [p.grad for p in model.parameters()]
    values = np.arange(flat_grads(model).size, dtype=np.float32)
    set_flat_grads(model, values)
    params = list(model.parameters())
    assert params[0].grad is grads_before[0]  # same tensor, written in place
    assert params[0].grad[1, 2].item() == 1 * 5 + 2
    assert params[1].grad.tolist() == [20.0, 21.0, 22.0, 23.0]
    assert params[3].grad.tolist() == [36.0, 37.0, 38.0]  # allocated where there was none
    with pytest.raises(ValueError, match="trainable"):
        set_flat_grads(model, values[:-1])


def test_exchange_grads_writes_the_mean_back(start_server):
    models = [model_with_grads(seed) for seed in (11, 12)]
    dim = flat_grads(models[0]).size
    expected = [(a.grad.double() + b.grad.double()) / 2 for a, b in zip(*(m.parameters() for m in models))]
    srv = start_server(rule="mean", workers=2, dim=dim)

    def worker(i):
        with flagagg.Client(srv.url, srv.token(i)) as c:
            return exchange_grads(c, None, models[i])  # the server's round

    results, errors = run_workers([lambda i=i: worker(i) for i in range(2)])
    assert errors == [None, None], errors
    for model in models:
        for p, e in zip(model.parameters(), expected):
            assert p.grad.dtype == torch.float32
            torch.testing.assert_close(p.grad.double(), e, rtol=1e-6, atol=1e-7)
    assert np.array_equal(results[0], results[1])


def test_exchange_grads_retries_a_failed_round_with_the_same_gradients_at_the_next_round():
    from test_client_fake_server import FakeServer, accept_hello, receive_gradient, send_result

    model = model_with_grads(21)
    before = flat_grads(model).copy()

    def script(ws, srv):
        s = accept_hello(ws, srv, chunk_coords=10, credits=2)
        grads = srv.seen.setdefault("grads", [])
        grad, _ = receive_gradient(ws, srv, s)
        grads.append(grad)
        send_result(ws, s, 0, None, status="failed", reason="aggregator lost: shard 2 (member m1) left the cluster")
        grad, h = receive_gradient(ws, srv, s, on_frame=lambda h: srv.seen.setdefault("rounds", []).append(h.round))
        grads.append(grad)
        send_result(ws, s, 1, grad * 3, srv=srv)

    with FakeServer(script) as srv, flagagg.Client(srv.url, "t", dim=before.size) as c:
        aggregate = exchange_grads(c, None, model)
        assert c.last_result["round"] == 1
    assert set(srv.seen["rounds"]) == {1}  # the retry went to the round after the failed one
    assert len(srv.seen["grads"]) == 2 and all(np.array_equal(g, before) for g in srv.seen["grads"])
    assert np.array_equal(aggregate, before * 3) and np.array_equal(flat_grads(model), before * 3)


def test_exchange_grads_retries_a_lost_round_on_the_other_gateway():
    from test_failover import dies_with_its_first_connection, drop, join, serve_rounds
    from test_client_fake_server import FakeServer

    model = model_with_grads(22)
    before = flat_grads(model).copy()

    def first(ws, srv):
        join(ws, srv, 3)
        ws.recv(timeout=5)
        drop(ws)

    with FakeServer(first, process_request=dies_with_its_first_connection()) as a, \
            FakeServer(serve_rounds(8)) as b:
        with flagagg.Client([a.url, b.url], "t", dim=before.size, failover_s=30) as c:
            aggregate = exchange_grads(c, None, model)
            assert c.url == b.url and c.last_result["round"] == 8
    assert [r for r, _ in b.seen["grads"]] == [8] and np.array_equal(b.seen["grads"][0][1], before)
    assert np.array_equal(aggregate, before * 2) and np.array_equal(flat_grads(model), before * 2)


def test_exchange_grads_gives_up_after_its_retries_and_leaves_the_gradients():
    from test_client_fake_server import FakeServer, accept_hello, receive_gradient, send_result

    model = model_with_grads(23)
    before = flat_grads(model).copy()

    def script(ws, srv):
        s = accept_hello(ws, srv, chunk_coords=10, credits=2)
        for r in range(3):
            receive_gradient(ws, srv, s)
            srv.seen["rounds"] = r + 1
            send_result(ws, s, r, None, status="failed", reason=f"quorum not reached in round {r}")

    with FakeServer(script) as srv, flagagg.Client(srv.url, "t", dim=before.size) as c:
        with pytest.raises(flagagg.RoundFailed) as e:
            exchange_grads(c, None, model, retries=2)
    assert e.value.round == 2 and "round 2" in e.value.reason and srv.seen["rounds"] == 3
    assert np.array_equal(flat_grads(model), before)
