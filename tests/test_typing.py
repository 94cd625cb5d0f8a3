"""The package ships py.typed, and mypy accepts it (also run by .ci/run)."""

import pathlib
import shutil
import subprocess
import sys

import pytest

import hookfit

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_py_typed_is_shipped():
    assert (pathlib.Path(hookfit.__file__).parent / "py.typed").is_file()


@pytest.mark.slow
def test_mypy_accepts_the_package():
    pytest.importorskip("mypy")
    if not (REPO / "pyproject.toml").is_file() or shutil.which(sys.executable) is None:
        pytest.skip("needs the source tree")
    result = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
