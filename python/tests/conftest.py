# SPDX-License-Identifier: MIT
"""Shared setup of the binding's tests.

Run with Debian's interpreter (it has numpy, torch and pytest):

    RNN_LIBRARY=build/librnn.so PYTHONPATH=python /usr/bin/python3 -m pytest -q python/tests

Without RNN_LIBRARY the package looks for build*/librnn.so in the source tree.
"""

import os
import sys

import pytest
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
# The package lives in python/rnn: importable without PYTHONPATH as well.
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

#: Source tree root (include/rnn.h lives there).
ROOT = os.path.dirname(os.path.dirname(HERE))

torch.set_default_dtype(torch.float32)
# One thread: the comparisons do not depend on how torch splits its sums,
# and two test processes on two cores do not oversubscribe.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed_torch():
    torch.manual_seed(0)
    yield
