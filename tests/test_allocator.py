"""glibc's allocator keeps freed memory once the CLI has set it up."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys

import pytest

PROBE = """
import resource, numpy as np
from ccrkit.allocator import keep_freed_memory
if {keep}:
    assert keep_freed_memory()
for _ in range(3):  # warm-up: the dynamic threshold may adapt on its own
    np.ones(64 * 2**20 // 8)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    np.ones(64 * 2**20 // 8)  # 64 MB allocated, touched and freed
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def page_faults(keep: bool) -> int:
    out = subprocess.run([sys.executable, "-c", PROBE.format(keep=keep)], capture_output=True,
                         text=True, check=True)  # fmt: skip
    return int(out.stdout)


@pytest.mark.skipif(ctypes.util.find_library("c") != "libc.so.6", reason="glibc only")
def test_freed_arrays_are_reused_instead_of_faulted_in_again():
    # in child processes: the setting lasts for the whole process, this one runs other tests
    # fresh pages fault at least once per 2 MB (huge pages), 640 times for 20 x 64 MB (10,880
    # measured here); reused memory is already there
    assert page_faults(keep=False) >= 20 * 32
    assert page_faults(keep=True) < 100
