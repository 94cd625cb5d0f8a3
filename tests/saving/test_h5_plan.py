"""Repeated HDF5 saves reuse the file's layout (``saving/h5_plan.py``).

The oracle is h5py itself: every file written from a stored layout must be
byte for byte the file h5py builds for the same model, and load back.
"""

import os
import zipfile

import numpy as np
import pytest

pytest.importorskip("h5py")

import hookfit as keras  # noqa: E402
from hookfit.saving import h5_io, h5_plan  # noqa: E402

SAVES = {
    "keras3 weights": ("w.weights.h5", lambda m, p: m.save_weights(p)),
    "keras2 weights": ("w.h5", lambda m, p: m.save_weights(p)),
    "keras2 model": ("m.h5", lambda m, p: m.save(p)),
    "keras3 archive": ("m.keras", lambda m, p: m.save(p)),
}


def _model(units=8, name=None):
    model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(units, activation="relu", name=name),
         keras.layers.BatchNormalization(), keras.layers.Dense(2)]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse", metrics=["mae"])
    return model


def _train(model, seed):
    rng = np.random.default_rng(seed)
    model.fit(rng.random((16, 5), dtype=np.float32), rng.random((16, 2), dtype=np.float32),
              batch_size=8, epochs=1, verbose=0)


def _hdf5_part(path):
    """The HDF5 bytes of a file (of an archive: its weights member; the
    archive's metadata holds the save date)."""
    if path.endswith(".keras"):
        with zipfile.ZipFile(path) as archive:
            return archive.read("model.weights.h5")
    with open(path, "rb") as f:
        return f.read()


def _built_by_h5py(save, model, path, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(h5_io, "_LAYOUTS", h5_plan.LayoutCache())
        save(model, path)
    return _hdf5_part(path)


@pytest.fixture
def layouts(monkeypatch):
    cache = h5_plan.LayoutCache()
    monkeypatch.setattr(h5_io, "_LAYOUTS", cache)
    return cache


@pytest.mark.parametrize("kind", sorted(SAVES))
def test_files_from_a_stored_layout_are_h5pys_bytes(kind, layouts, tmp_path, monkeypatch):
    name, save = SAVES[kind]
    model = _model()
    path, fresh = str(tmp_path / name), str(tmp_path / ("fresh_" + name))
    builds = []
    real_build = h5_plan.Plan.build_with_h5py
    monkeypatch.setattr(h5_plan.Plan, "build_with_h5py",
                        lambda self, *a, **k: builds.append(1) or real_build(self, *a, **k))
    for seed in range(4):
        _train(model, seed)
        before = len(builds)
        save(model, path)
        if seed >= 2:  # the third save on: no HDF5 call at all
            assert len(builds) == before
        saved = _hdf5_part(path)
        assert saved == _built_by_h5py(save, model, fresh, monkeypatch)
    assert any(isinstance(v, h5_plan.Layout) for v in layouts._entries.values())

    loaded = _model()
    if kind.endswith("weights"):
        loaded.load_weights(path)
    else:
        loaded = keras.models.load_model(path)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_changed_layout_is_built_anew(layouts, tmp_path, monkeypatch):
    path = str(tmp_path / "w.weights.h5")
    for model in (_model(), _model(), _model(units=3), _model(name="renamed"), _model()):
        for _ in range(3):
            model.save_weights(path)
            assert _hdf5_part(path) == _built_by_h5py(lambda m, p: m.save_weights(p), model,
                                                       str(tmp_path / "f.weights.h5"), monkeypatch)
        restored = _model(units=model.layers[0].units)
        restored.load_weights(path)


def test_a_plan_with_other_values_is_always_built_by_h5py(layouts):
    h5py = h5_io.import_h5py()

    def plan():
        p = h5_plan.Plan()
        p.root.attrs["odd"] = [1, 2]  # a list: not a value the layouts take
        p.root.create_group("g").put_dataset("x", np.arange(3, dtype=np.float32))
        return p

    assert plan().key() is None
    first = layouts.file_bytes(plan(), h5py)
    for _ in range(3):
        assert layouts.file_bytes(plan(), h5py) == first
    assert not layouts._entries


def test_zero_size_and_scalar_datasets(layouts):
    h5py = h5_io.import_h5py()

    def plan(value):
        p = h5_plan.Plan()
        g = p.root.create_group("g")
        g.attrs["name"] = "g"
        g.put_dataset("empty", np.zeros((0, 3), np.float32))
        g.put_dataset("scalar", np.int64(value))
        g.put_dataset("x", np.full((2, 2), value, np.float32))
        return p

    for value in range(4):
        got = layouts.file_bytes(plan(value), h5py)
        assert got == plan(value).build_with_h5py(h5py)[0]
    assert isinstance(next(iter(layouts._entries.values())), h5_plan.Layout)


def test_the_cache_keeps_a_bounded_number_of_layouts():
    h5py = h5_io.import_h5py()
    cache = h5_plan.LayoutCache(capacity=2)

    def plan(n):
        p = h5_plan.Plan()
        p.root.put_dataset("x", np.zeros(n, np.float32))
        return p

    for n in range(1, 6):
        for _ in range(3):
            cache.file_bytes(plan(n), h5py)
    assert len(cache._entries) == 2


def test_a_full_disk_leaves_the_previous_file(layouts, tmp_path, monkeypatch):
    """The layout changes how the bytes are made, not how they are written."""
    model = _model()
    path = str(tmp_path / "w.weights.h5")
    for _ in range(3):
        model.save_weights(path)
    before = _hdf5_part(path)
    _train(model, 7)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError):
        model.save_weights(path)
    assert _hdf5_part(path) == before


def test_saves_from_several_threads(layouts, tmp_path, monkeypatch):
    import threading

    models = [_model(units=u) for u in (2, 3, 4, 5)]
    errors = []

    def save_many(i):
        try:
            for _ in range(6):
                models[i].save_weights(str(tmp_path / f"m{i}.weights.h5"))
        except BaseException as e:  # noqa: BLE001 (reported below)
            errors.append(e)

    threads = [threading.Thread(target=save_many, args=(i,)) for i in range(len(models))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i, model in enumerate(models):
        path = str(tmp_path / f"m{i}.weights.h5")
        assert _hdf5_part(path) == _built_by_h5py(lambda m, p: m.save_weights(p), model,
                                                   str(tmp_path / "f.weights.h5"), monkeypatch)
