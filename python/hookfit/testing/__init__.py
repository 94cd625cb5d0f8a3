"""Tools for testing your own callbacks without training a model.

>>> from hookfit.testing import CallbackHarness
"""

from hookfit.testing.harness import CallbackHarness, HarnessRun, ScriptedError

__all__ = ["CallbackHarness", "HarnessRun", "ScriptedError"]
