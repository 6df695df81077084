"""The Examples in the detectors' docstrings run (DESIGN.md: docstrings whose Examples are doctests).

Every module of the ``detectors`` package (``detectors/stats/`` included) and the price table
the detectors read.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil

import pytest

import detectors

MODULES = sorted([m.name for m in pkgutil.walk_packages(detectors.__path__, "detectors.")]
                 + ["spendwatch.prices", "spendwatch.contract"])
WITH_EXAMPLES = [name for name in MODULES if ">>>" in inspect.getsource(importlib.import_module(name))]


def test_some_detector_modules_have_examples() -> None:
    assert WITH_EXAMPLES, "no detector module has docstring Examples"


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_examples_run(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0, \
        f"{result.failed} of {result.attempted} doctest examples failed in {name}"
