"""With MPI: 2 ranks under mpiexec (a subprocess with a hard timeout).
Skipped when mpi4py or mpiexec is absent (the 'mpi' extra brings both)."""

import json
import re
import sys
import time
from pathlib import Path

import pytest


PROGRAMS = Path(__file__).parent / "programs"
TIMEOUT = 300  # as conftest.TIMEOUT


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


def test_launcher_runs_the_script_on_every_rank(ranks):
    res = ranks(["-m", "hookfit.distribute", str(PROGRAMS / "script_args.py"), "a", "fit"])
    assert res.returncode == 0, res.stderr
    # Each rank prints its own lines; mpiexec may interleave them.
    starts = sorted(re.findall(r"name=\S+ argv=\[.*?\] rank=\d size=\d", res.stdout))
    assert starts == [
        "name=__main__ argv=['a', 'fit'] rank=0 size=2",
        "name=__main__ argv=['a', 'fit'] rank=1 size=2",
    ]
    assert res.stdout.count("fit ran") == 2


# even, uneven, 1-row last; the last also with MPI's Allreduce (no shared window)
@pytest.mark.parametrize("n, batch_size, shared", [(96, 24, "1"), (101, 16, "1"), (85, 32, "1"), (85, 32, "0")])
def test_unchanged_script_trains_data_parallel_as_one_process(ranks, tmp_path, n, batch_size, shared):
    import importlib.util

    import numpy as np

    out = tmp_path / "result.json"
    res = ranks(["-m", "hookfit.distribute", str(PROGRAMS / "fit_job.py"), str(n), str(batch_size), str(out)],
                env={"HOOKFIT_MPI_SHARED_MEMORY": shared})
    assert res.returncode == 0, res.stderr
    got = json.loads(out.read_text())
    # One process: the same script's pieces, here.
    spec = importlib.util.spec_from_file_location("fit_job_one", PROGRAMS / "fit_job.py")
    job = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(job)
    x, y = job.data(n)
    m = job.model()
    job.keras.utils.set_random_seed(7)
    rec = job.BatchLogs()
    history = m.fit(x, y, batch_size=batch_size, epochs=3, verbose=0, callbacks=[rec],
                    validation_split=0.25, sample_weight=np.linspace(0.5, 1.5, n).astype(np.float32))
    for k, v in history.history.items():
        np.testing.assert_allclose(got["history"][k], v, rtol=1e-5, atol=1e-6)
    assert [b[0] for b in got["batches"]] == [b[0] for b in rec.logs]
    np.testing.assert_allclose([b[1:] for b in got["batches"]], [b[1:] for b in rec.logs], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got["evaluate"], m.evaluate(x, y, batch_size=batch_size, verbose=0), rtol=1e-5)
    np.testing.assert_allclose(got["predict"], m.predict(x, batch_size=batch_size, verbose=0), rtol=1e-5, atol=1e-6)
    on_batch = job.train_on_batches(m, x, y)
    for a, b in zip(got["train_on_batch"], on_batch):
        if isinstance(b, dict):
            assert a.keys() == b.keys()
            a, b = list(a.values()), list(b.values())
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for w, w1 in zip(got["weights"], m.get_weights()):
        np.testing.assert_allclose(w, w1, rtol=1e-5, atol=1e-6)
    assert got["digests"][0] == got["digests"][1]  # bit-identical weights on both ranks
    # Both ranks on this machine: the gradients were summed in the node's
    # shared window during the fit, and the network got its own buffer back.
    assert got["shared_window"] == ([True, False] if shared == "1" else [False, False])
    # One progress bar: verbose=2 prints one line per epoch, from rank 0 only.
    assert len(re.findall(r"Epoch \d/3", res.stdout)) == 3


def test_callbacks_on_two_ranks_and_backup_resume(ranks, tmp_path):
    import numpy as np

    job = str(PROGRAMS / "callbacks_job.py")

    def run(mode):
        res = ranks(["-m", "hookfit.distribute", job, str(tmp_path), mode])
        assert res.returncode == 0, res.stderr
        return res, json.loads((tmp_path / f"{mode}.json").read_text())

    res, straight = run("straight")
    hist = straight["history"]
    assert 2 < len(hist["loss"]) < 8  # EarlyStopping stopped it, on both ranks alike
    assert straight["digests"][0] == straight["digests"][1]
    # One progress bar (rank 0's): one "Epoch i/8" line per epoch run.
    assert len(re.findall(r"Epoch \d/8", res.stdout)) == len(hist["loss"])
    # CSV and checkpoint written once, by rank 0, with every epoch's row.
    assert len((tmp_path / "straight.csv").read_text().splitlines()) == 1 + len(hist["loss"])
    assert (tmp_path / "straight-ck.weights.npz").exists()
    assert not (tmp_path / "backup-straight").exists()

    _, interrupted = run("interrupt")
    assert interrupted["history"] == {"error": "interrupted on purpose"}
    assert (tmp_path / "backup-resumed" / "backup.npz").exists()
    _, resumed = run("resume")
    assert resumed["history"] == hist  # bitwise the uninterrupted run
    assert resumed["digests"] == straight["digests"]

    # The 2-rank backup resumes on one process (equal to rounding).
    import importlib.util

    _, _ = run("interrupt")
    spec = importlib.util.spec_from_file_location("callbacks_job_one", PROGRAMS / "callbacks_job.py")
    job_module = importlib.util.module_from_spec(spec)
    argv = sys.argv
    sys.path.insert(0, str(PROGRAMS))
    try:
        sys.argv = ["callbacks_job.py", str(tmp_path), "one"]  # read at import
        spec.loader.exec_module(job_module)
        one_hist, one_weights = job_module.run(job_module.model(77), "one",
                                               str(tmp_path / "backup-resumed"), False, verbose=0)
    finally:
        sys.argv = argv
        sys.path.remove(str(PROGRAMS))
    assert one_hist.keys() == hist.keys()
    for k in hist:
        np.testing.assert_allclose(one_hist[k], hist[k], rtol=1e-5, atol=1e-6)
    for w, w0 in zip(one_weights, straight["weights"]):
        np.testing.assert_allclose(w, w0, rtol=1e-5, atol=1e-6)


def test_pydataset_generator_dropout_and_batchnorm_on_two_ranks(ranks, tmp_path):
    """One job: a shuffled PyDataset fit (Dropout, steps_per_execution=2,
    uneven last batch, PyDataset validation) and a generator fit equal one
    process; a BatchNormalization fit equals the thread backend's 2 replicas
    (per-rank batch statistics, averaged moving statistics)."""
    import importlib.util

    import numpy as np

    from hookfit.distribute import DataParallel, run_replicas

    out = tmp_path / "result.json"
    res = ranks(["-m", "hookfit.distribute", str(PROGRAMS / "layers_sources_job.py"), str(out)])
    assert res.returncode == 0, res.stderr
    got = json.loads(out.read_text())
    spec = importlib.util.spec_from_file_location("layers_sources_one", PROGRAMS / "layers_sources_job.py")
    job = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(job)

    def close(a, b):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

    history, batches = job.pydataset_fit(job.dropout_model(3))
    for k, v in history.items():
        close(got["pydataset"][0][k], v)
    assert [b[0] for b in got["pydataset"][1]] == [b[0] for b in batches]
    close([b[1:] for b in got["pydataset"][1]], [b[1:] for b in batches])
    assert got["pydataset_digests"][0] == got["pydataset_digests"][1]
    assert len(re.findall(r"Epoch \d/3", res.stdout)) == 3  # rank 0's bar only

    m = job.dropout_model(3)
    history = job.generator_fit(m)
    for k, v in history.items():
        close(got["generator"][k], v)
    for w, w1 in zip(got["generator_weights"], m.get_weights()):
        close(w, w1)

    models = [job.bn_model(5), job.bn_model(5)]
    x, y = job.data(101, seed=2)  # job.bn_fit's fit, here in 2 threads
    threads = run_replicas(2, lambda c: models[c.rank].fit(
        x, y, batch_size=25, epochs=2, verbose=0, shuffle=False, distribute=DataParallel(c)).history,
        timeout=120)
    for k, v in threads[0].items():
        close(got["bn"][k], v)
    for w, w1 in zip(got["bn_weights"], models[0].get_weights()):
        close(w, w1)
    assert got["bn_digests"][0] == got["bn_digests"][1]
