"""Run ``spanmix`` command lines, each in its own forked process, and report exit code and stderr as JSON.

    python cli_cases.py CASES.json OUT.json     # CASES: {"name": {"argv": [...], "env": {...}}, ...}

The parent imports torch, Lightning and the apps once, then forks one child per case: each child runs the
real console entry (``spanmix.apps.cli.main``, then ``sys.exit``) with its own stdout/stderr files, so a
case costs a fork instead of a fresh interpreter (tens of seconds on a busy 2-core machine).
"""
import importlib
import json
import os
import sys
import tempfile

from spanmix.apps import cli


def _run_child(argv, env, out_dir, name):
    os.environ.update(env)
    sys.path[:0] = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    for fd, suffix in ((1, "out"), (2, "err")):
        f = os.open(os.path.join(out_dir, f"{name}.{suffix}"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(f, fd)
    code = 1
    try:
        code = cli.main(argv)
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    except Exception:  # an uncaught error: print it as the interpreter would, exit 1
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def main(cases_file, out_file):
    with open(cases_file) as f:
        cases = json.load(f)
    for module in sorted(set(cli.APPS.values())):
        importlib.import_module(module)
    out_dir = tempfile.mkdtemp()
    results = {}
    for name, case in cases.items():
        pid = os.fork()
        if pid == 0:
            _run_child(case["argv"], case.get("env", {}), out_dir, name)
        _, status = os.waitpid(pid, 0)
        with open(os.path.join(out_dir, f"{name}.err")) as f:
            err = f.read()
        results[name] = {"code": os.waitstatus_to_exitcode(status), "stderr": err}
    with open(out_file, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:])
