"""Fixtures for the `hull img` / src/disk tests (helpers in img_helpers.py)."""
import os
import random
import shutil

import pytest

from img_helpers import Img


@pytest.fixture(scope="session")
def disk_io(build):
    path = build / "tests/unit/disk/disk-io"
    if not path.exists():
        pytest.skip("disk-io helper not built")
    return str(path)


@pytest.fixture
def img(hull, disk_io, tmp_path):
    if not shutil.which("qemu-img") or not shutil.which("qemu-io"):
        pytest.skip("qemu-utils (qemu-img, qemu-io) not installed")
    return Img(hull, disk_io, tmp_path)


@pytest.fixture
def rng():
    seed = int(os.environ.get("HULL_TEST_SEED", "1234"))
    return random.Random(seed)
