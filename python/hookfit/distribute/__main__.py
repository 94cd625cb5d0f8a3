"""``python -m hookfit.distribute [-m module | script.py] [args...]``

Runs an unchanged script as ``__main__`` on every rank of an MPI job
(``mpiexec -n 4 python -m hookfit.distribute train.py``). An uncaught
exception (or a non-zero ``sys.exit``) on any rank prints its traceback,
marked with the rank, and aborts the whole job with a non-zero status, as
``python -m mpi4py`` does: the other ranks would otherwise wait forever in
their next collective.
"""

from __future__ import annotations

import os
import runpy
import sys
import time
import traceback

USAGE = "usage: python -m hookfit.distribute [-m module | script.py] [args...]"


def _exit_status(exc: SystemExit) -> int:
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # sys.exit("message"), as Python does
    return 1


def _fail(world, status: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    if world is not None and world.size > 1:
        # mpiexec forwards each rank's output through a pipe; an abort right
        # away can end the job before the traceback has crossed it.
        time.sleep(0.5)
        world.abort(status)  # ends every rank; does not return
    raise SystemExit(status)


def _run(argv: list) -> None:
    if argv[0] == "-m":
        if len(argv) < 2:
            raise SystemExit(USAGE)
        sys.argv = [argv[1], *argv[2:]]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
    else:
        script = argv[0]
        if not os.path.isfile(script):
            raise SystemExit(f"hookfit.distribute: cannot open the script {script!r}\n{USAGE}")
        sys.argv = list(argv)
        sys.path[0] = os.path.dirname(os.path.abspath(script))
        runpy.run_path(script, run_name="__main__")


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE + "\n\n" + __doc__.split("\n\n", 1)[1].strip())
        raise SystemExit(0 if argv else 2)
    from hookfit.distribute import launch

    world = None
    try:
        world = launch.start()
        _run(argv)
    except SystemExit as exc:
        status = _exit_status(exc)
        if status != 0:
            _fail(world, status)
        raise
    except BaseException:  # noqa: BLE001 - any failure must end every rank
        rank = world.rank if world is not None else "?"
        # One write, so the header and the traceback travel together.
        sys.stderr.write(f"[hookfit.distribute] rank {rank} failed:\n{traceback.format_exc()}")
        _fail(world, 1)


if __name__ == "__main__":
    main()
