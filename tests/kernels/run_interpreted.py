"""Run one test file's interpreter checks in this (fresh) process: ``python run_interpreted.py TEST_FILE``.

Triton's interpreter needs ``TRITON_INTERPRET=1`` before ``triton`` itself is imported, and in a pytest
process ``torch._dynamo`` has usually imported it already. So the ``interpreted_results`` fixture of
``conftest.py`` starts this script with the flag set; it loads TEST_FILE, calls every function of its
``CHECKS`` dict (name -> function) and prints one JSON line: name -> ``"ok"`` or the failure's traceback.
"""

import importlib.util
import json
import os
import sys
import traceback

if __name__ == "__main__":
    if os.environ.get("TRITON_INTERPRET") != "1":
        raise SystemExit("run with TRITON_INTERPRET=1 (the interpreted_results fixture starts it so)")
    path = sys.argv[1]
    spec = importlib.util.spec_from_file_location("interpreted_checks", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    outcome = {}
    for name, fn in module.CHECKS.items():
        try:
            fn()
            outcome[name] = "ok"
        except BaseException:  # noqa: BLE001 -- report every failure to the parent test
            outcome[name] = traceback.format_exc()[-3000:]
    print(json.dumps(outcome))
