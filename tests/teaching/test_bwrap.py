"""``vgg_edu.teaching.bwrap``: the hostile class (``hostile_class``: every attack, beside honest students) graded in
bubblewrap, as ``python -m vgg_edu grade --sandbox bwrap`` grades it."""

import pytest
from hostile_class import *  # noqa: F403 (its tests and their fixture, collected here)

pytestmark = pytest.mark.slow  # an end-to-end run: `make test`, not `make check`


@pytest.fixture(scope="module")
def sandbox_tool():
    return "bwrap"
