"""A child process that dies with its parent.

Linux lets a process ask the kernel for a signal when its parent dies
(`prctl(PR_SET_PDEATHSIG)`), even when the parent is killed with SIGKILL. The request
races with the parent's death: a parent that died before it was made sends nothing, so
the caller compares `getppid()` with the parent it expects afterwards.
"""

from __future__ import annotations

import ctypes
import signal
import sys

_PR_SET_PDEATHSIG = 1


def signal_on_parent_death(signum: signal.Signals) -> bool:
    """Ask the kernel to send `signum` to this process when its parent dies; False where
    that cannot be asked (not Linux), so the caller watches `os.getppid()` itself."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(_PR_SET_PDEATHSIG, int(signum), 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False
