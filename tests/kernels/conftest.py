"""Interpreter checks of the Triton kernels: a test file defines ``CHECKS`` (name -> function) and
``test_interpreted(interpreted_results, interpreted_check)``; every check runs in ONE fresh process with
``TRITON_INTERPRET=1`` (see ``run_interpreted.py``) and is reported as its own test."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RUNNER = Path(__file__).with_name("run_interpreted.py")


def pytest_generate_tests(metafunc):
    if "interpreted_check" in metafunc.fixturenames:
        metafunc.parametrize("interpreted_check", list(metafunc.module.CHECKS))


@pytest.fixture(scope="module")
def interpreted_results(request):
    """name -> "ok" or the traceback, for every check of the requesting test file."""
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    done = subprocess.run([sys.executable, str(RUNNER), request.module.__file__], capture_output=True,
                          text=True, timeout=900, env=env)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])
