"""The package's import surface: the core works without torch; the error classes form one hierarchy."""
import subprocess
import sys

import flagagg


def test_import_without_torch():
    code = ("import sys; sys.modules['torch'] = None\n"  # makes `import torch` fail, as if not installed
            "import flagagg, flagagg.frame, flagagg.server\n"
            "print(flagagg.Client.__name__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "Client", done.stderr


def test_error_hierarchy():
    for cls in (flagagg.ConnectionRefused, flagagg.ControlError, flagagg.ChunkRejected, flagagg.RoundFailed):
        assert issubclass(cls, flagagg.ServerError) and issubclass(cls, flagagg.FlagaggError)
    e = flagagg.ChunkRejected(422, "NaN at 3", 7, 1)
    assert (e.code, e.reason, e.round, e.chunk) == (422, "NaN at 3", 7, 1) and "422" in str(e)
    assert issubclass(flagagg.RoundTimeout, TimeoutError)
    # A lost round is a failed round (retried the same way); giving up on every gateway is not a server's answer.
    assert issubclass(flagagg.RoundLost, flagagg.RoundFailed)
    assert issubclass(flagagg.AggregatorLost, flagagg.FlagaggError)
    assert not issubclass(flagagg.AggregatorLost, flagagg.ServerError)
