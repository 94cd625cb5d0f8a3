"""With MPI: 2 ranks under mpiexec (a subprocess with a hard timeout).
Skipped when mpi4py or mpiexec is absent (the 'mpi' extra brings both)."""

import re
import time
from pathlib import Path


PROGRAMS = Path(__file__).parent / "programs"
TIMEOUT = 120  # as conftest.TIMEOUT


def _lines(out):
    """The ranks' lines (mpiexec forwards whole lines, in any order)."""
    return [line for line in out.splitlines() if line.strip()]


def test_collectives_over_two_ranks(ranks):
    res = ranks([str(PROGRAMS / "collectives.py")])
    assert res.returncode == 0, res.stderr
    assert sorted(_lines(res.stdout)) == ["rank 0 of 2 OK", "rank 1 of 2 OK"]


def test_signature_mismatch_raises_on_both_ranks_without_a_hang(ranks):
    res = ranks([str(PROGRAMS / "collectives.py"), "mismatch"])
    assert res.returncode == 0, res.stderr
    lines = sorted(_lines(res.stdout))
    assert [line.split(" MISMATCH ")[0] for line in lines] == ["rank 0", "rank 1"]
    assert lines[0].split(" MISMATCH ")[1] == lines[1].split(" MISMATCH ")[1]
    assert "batch_size: rank 0: 32, rank 1: 64" in lines[0]


def test_an_exception_on_rank_1_aborts_the_whole_job(ranks):
    t0 = time.monotonic()
    res = ranks(["-m", "hookfit.distribute", str(PROGRAMS / "fail_on_rank1.py")])
    assert res.returncode != 0
    assert time.monotonic() - t0 < TIMEOUT
    assert "rank 1 failed" in res.stderr and "rank 1 fails on purpose" in res.stderr
    assert "passed the allreduce" not in res.stdout


def test_launcher_runs_the_script_on_every_rank_and_refuses_unsharded_fit(ranks):
    res = ranks(["-m", "hookfit.distribute", str(PROGRAMS / "script_args.py"), "a", "fit"])
    assert res.returncode == 0, res.stderr
    # Each rank prints its own lines; mpiexec may interleave them.
    starts = sorted(re.findall(r"name=\S+ argv=\[.*?\] rank=\d size=\d", res.stdout))
    assert starts == [
        "name=__main__ argv=['a', 'fit'] rank=0 size=2",
        "name=__main__ argv=['a', 'fit'] rank=1 size=2",
    ]
    assert res.stdout.count("fit refused: fit() on 2 ranks") == 2
    assert "not wired into the training loop" in res.stdout
