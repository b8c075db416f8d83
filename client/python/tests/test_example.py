"""Smoke run of examples/train_digits.py: one short epoch through a real server, FA against a sign flipper."""
import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("torch", reason="the digits example needs torch (pip install torch)")
pytest.importorskip("sklearn", reason="the digits example needs scikit-learn (pip install scikit-learn)")

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "examples", "train_digits.py")


def test_digits_example_trains_one_epoch_with_fa(jar):
    cmd = [sys.executable, EXAMPLE, "--jar", jar, "--rules", "flag", "--epochs", "1", "--workers", "4",
           "--byzantine", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    m = re.search(r"rule flag\s+epoch\s+1\s+test accuracy (\d\.\d+)", done.stdout)
    assert m, done.stdout
    # Ten classes: chance is 0.1. One epoch of 22 steps through FA, with one worker sending -10 x its
    # gradient, already learns (mean diverges under the same attack).
    assert float(m.group(1)) > 0.3, done.stdout
    assert "final test accuracy: flag" in done.stdout
