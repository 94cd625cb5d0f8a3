"""``hookfit.saving`` never imports ``hookfit.models`` (not even lazily inside
a function): the models package hands its class table down
(``model_file.use_class_table``), so saving stays below models."""

import ast
import pathlib

import hookfit
from hookfit.saving import model_file

SAVING = pathlib.Path(hookfit.__file__).parent / "saving"


def _imported_modules(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            if node.module == "hookfit":
                yield from (f"hookfit.{alias.name}" for alias in node.names)


def test_no_module_of_saving_imports_models():
    offenders = {
        f"{path.name}: {name}"
        for path in SAVING.glob("*.py")
        for name in _imported_modules(path)
        if name == "hookfit.models" or name.startswith("hookfit.models.")
    }
    assert not offenders


def test_the_class_table_is_handed_down_by_models():
    classes = model_file.class_table()
    assert classes["Sequential"] is hookfit.Sequential
    assert classes["Dense"] is hookfit.layers.Dense
