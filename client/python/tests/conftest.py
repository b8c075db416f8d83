import os
import subprocess
import threading

import numpy as np
import pytest

from flagagg.server import LocalServer, default_jar


@pytest.fixture(scope="session")
def jar():
    path = default_jar()
    if not os.path.isfile(path):
        pytest.skip(f"server jar not found at {path}: build it with 'mvn -B package -DskipTests' "
                    "(or set FLAGAGG_JAR)")
    return path


@pytest.fixture
def start_server(jar):
    """start_server(rule=..., workers=..., dim=..., args=[...]) -> a running LocalServer, stopped after the test."""
    servers = []

    def start(**kwargs):
        srv = LocalServer(jar, **kwargs)
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.stop()


def offline_aggregate(jar, tmp_path, gradients, rule, extra=()):
    """`flagagg aggregate --binary` on the gradients (rows, in slot order) written as float32 little-endian."""
    gradients = np.asarray(gradients, dtype="<f4")
    src, out = tmp_path / f"grads-{rule}.f32", tmp_path / f"agg-{rule}.f32"
    gradients.tofile(src)
    cmd = ["java", "-jar", jar, "aggregate", "--rule", rule, "--binary", "--dim", str(gradients.shape[1]),
           "--out", str(out), *extra, str(src)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{' '.join(cmd)} failed: {done.stdout} {done.stderr}"
    return np.fromfile(out, dtype="<f4")


def run_workers(fns):
    """Runs each fn in its own thread (one client each); returns their results, re-raising the first error."""
    results, errors = [None] * len(fns), [None] * len(fns)

    def run(i):
        try:
            results[i] = fns[i]()
        except BaseException as e:  # noqa: B902 - handed to the test thread
            errors[i] = e

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
        assert not t.is_alive(), "a worker did not finish in 300 s"
    return results, errors
