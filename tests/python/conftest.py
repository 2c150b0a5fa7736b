"""pytest fixtures for the Python package's tests (tests/python/test_*.py; docs/python.md).

robustmsa is imported from the environment (`pip install .`), or from a build tree when
ROBUSTMSA_PYTHON_PATH names its python/ directory (cmake -DROBUSTMSA_PYTHON=ON). The CLI, for the
tests that compare with it, is $ROBUSTMSA_BIN, else build/robustmsa in the checkout, else
`robustmsa` on PATH; those tests skip without one.
"""
import os
import shutil
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.dirname(os.path.dirname(HERE))

if os.environ.get("ROBUSTMSA_PYTHON_PATH"):
    sys.path.insert(0, os.environ["ROBUSTMSA_PYTHON_PATH"])


def cli_path():
    for candidate in (os.environ.get("ROBUSTMSA_BIN"), os.path.join(SOURCE_DIR, "build", "robustmsa"),
                      shutil.which("robustmsa")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def cli():
    path = cli_path()
    if path is None:
        pytest.skip("no robustmsa CLI (set ROBUSTMSA_BIN or build it in build/)")
    return path


@pytest.fixture(scope="session")
def small_mosi(tmp_path_factory):
    """A small MOSI-like synthetic file in the MulT layout, written by robustmsa.synth."""
    import robustmsa

    path = str(tmp_path_factory.mktemp("synth") / "mosi.pkl")
    robustmsa.synth(path, like="mosi", seed=3, n_train=60, n_valid=20, n_test=40)
    return path
