"""hookfit.datasets.mnist: Keras's mnist.npz read from the Keras cache, never downloaded."""

import os

import numpy as np
import pytest

from hookfit.datasets import mnist, mnist_or_digits


def write_mnist_like(path, n_train=6, n_test=4, **overrides):
    """A small synthetic file in Keras's mnist.npz format."""
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    arrays.update(overrides)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    np.savez(path, **arrays)
    return arrays


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """An empty Keras home: $KERAS_HOME/datasets/ is where files are looked up."""
    home = tmp_path / "keras_home"
    (home / "datasets").mkdir(parents=True)
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


def test_reads_an_absolute_path_as_keras_does(tmp_path, keras_home):
    arrays = write_mnist_like(tmp_path / "my_mnist.npz")
    (x_train, y_train), (x_test, y_test) = mnist.load_data(str(tmp_path / "my_mnist.npz"))
    for name, got in zip(
        ["x_train", "y_train", "x_test", "y_test"], [x_train, y_train, x_test, y_test]
    ):
        assert got.dtype == arrays[name].dtype
        assert np.array_equal(got, arrays[name])


def test_default_name_is_looked_up_in_the_keras_datasets_folder(keras_home):
    arrays = write_mnist_like(keras_home / "datasets" / "mnist.npz")
    (x_train, _), (_, y_test) = mnist.load_data()
    assert np.array_equal(x_train, arrays["x_train"])
    assert np.array_equal(y_test, arrays["y_test"])


def test_without_keras_home_the_folder_is_home_dot_keras(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".keras" / "datasets").mkdir(parents=True)
    arrays = write_mnist_like(tmp_path / ".keras" / "datasets" / "mnist.npz")
    assert mnist.datasets_dir() == str(tmp_path / ".keras" / "datasets")
    (x_train, _), _ = mnist.load_data()
    assert np.array_equal(x_train, arrays["x_train"])


def test_absent_file_says_exactly_where_to_put_it(keras_home):
    expected = os.path.join(str(keras_home), "datasets", "mnist.npz")
    with pytest.raises(FileNotFoundError) as info:
        mnist.load_data()
    message = str(info.value)
    assert expected in message
    assert "does not download" in message
    assert "hookfit.datasets.digits.load_data()" in message


def test_absent_absolute_path_names_that_path(tmp_path, keras_home):
    missing = tmp_path / "nowhere" / "mnist.npz"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        mnist.load_data(str(missing))


def test_missing_array_is_a_clear_value_error(keras_home):
    write_mnist_like(keras_home / "datasets" / "mnist.npz", y_test=None)
    with pytest.raises(ValueError, match=r"lacks the array\(s\) \['y_test'\]"):
        mnist.load_data()


def test_row_count_mismatch_is_a_clear_value_error(keras_home):
    write_mnist_like(
        keras_home / "datasets" / "mnist.npz", y_train=np.zeros(5, dtype=np.uint8)
    )
    with pytest.raises(ValueError, match="x_train has 6 rows but y_train has 5"):
        mnist.load_data()


def test_a_file_that_is_not_npz_is_a_clear_value_error(keras_home):
    (keras_home / "datasets" / "mnist.npz").write_text("<html>proxy error</html>")
    with pytest.raises(ValueError, match="not a readable .npz archive"):
        mnist.load_data()


def test_a_single_npy_array_is_a_clear_value_error(keras_home):
    with open(keras_home / "datasets" / "mnist.npz", "wb") as f:
        np.save(f, np.zeros((2, 28, 28), dtype=np.uint8))
    with pytest.raises(ValueError, match="single array, not an .npz"):
        mnist.load_data()


def test_mnist_or_digits_prefers_the_users_mnist(keras_home):
    arrays = write_mnist_like(keras_home / "datasets" / "mnist.npz")
    (x_train, _), _ = mnist_or_digits.load_data()
    assert np.array_equal(x_train, arrays["x_train"])
    assert mnist_or_digits.describe().startswith("MNIST, read from ")


def test_mnist_or_digits_falls_back_to_the_embedded_digits(keras_home):
    (x_train, y_train), (x_test, _) = mnist_or_digits.load_data()
    assert x_train.shape == (797, 28, 28) and x_test.shape == (1000, 28, 28)
    description = mnist_or_digits.describe()
    assert description.startswith("UCI handwritten digits")
    assert os.path.join(str(keras_home), "datasets", "mnist.npz") in description


def test_path_may_be_none_or_a_pathlib_path(tmp_path, keras_home):
    arrays = write_mnist_like(keras_home / "datasets" / "mnist.npz")
    (x_train, _), _ = mnist.load_data(None)
    assert np.array_equal(x_train, arrays["x_train"])
    write_mnist_like(tmp_path / "elsewhere.npz")
    (x_train, _), _ = mnist.load_data(tmp_path / "elsewhere.npz")
    assert x_train.shape == (6, 28, 28)


@pytest.mark.parametrize("bad", [3, b"mnist.npz", ["mnist.npz"]])
def test_path_of_a_wrong_type_is_a_clear_type_error(bad, keras_home):
    with pytest.raises(TypeError, match="path must be a file name or path"):
        mnist.load_data(bad)
