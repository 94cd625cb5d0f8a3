"""Suite-wide ordering: the tests that run real Keras as their oracle
(files named *_vs_keras.py) go last, so the memory jax keeps allocating in
the background never lands inside another test's RSS measurement."""


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=lambda item: "_vs_keras" in item.nodeid)
