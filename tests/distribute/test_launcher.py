"""``python -m hookfit.distribute`` in one process (no MPI launcher): the
script runs as __main__ with its arguments, today's path untouched, and
mpi4py is never imported."""

import subprocess
import sys
from pathlib import Path

SCRIPT = str(Path(__file__).parent / "programs" / "script_args.py")


def _run(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "hookfit.distribute", *args],
        capture_output=True, text=True, timeout=300, env=env,
    )


def test_one_process_runs_the_script_unchanged_without_mpi4py(env_without_launcher):
    res = _run(env_without_launcher, SCRIPT, "x", "--flag", "fit", "mpi4py")
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == [
        "name=__main__ argv=['x', '--flag', 'fit', 'mpi4py'] rank=0 size=1",
        "fit ran",
        "mpi4py imported=False",
    ]


def test_plain_import_uses_no_mpi(env_without_launcher):
    code = (
        "import sys, hookfit; hd = hookfit.distribute;"
        "print(hd.rank(), hd.size(), hd.is_chief(), 'mpi4py' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, env=env_without_launcher)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["0", "1", "True", "False"]


def test_exit_status_and_traceback_are_passed_on(env_without_launcher):
    res = _run(env_without_launcher, SCRIPT, "exit3")
    assert res.returncode == 3
    res = _run(env_without_launcher, SCRIPT, "raise")
    assert res.returncode == 1
    assert "rank 0 failed" in res.stderr and "KeyError: 'raised by the script'" in res.stderr


def test_usage_and_missing_script(env_without_launcher):
    res = _run(env_without_launcher, )
    assert res.returncode == 2 and "usage: python -m hookfit.distribute" in res.stdout
    res = _run(env_without_launcher, "no_such_script.py")
    assert res.returncode != 0 and "cannot open the script" in res.stderr
