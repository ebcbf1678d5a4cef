"""``python -m gateway.control.guard PARENT_PID -- COMMAND...``: run COMMAND so it dies with its parent.

Arms ``PR_SET_PDEATHSIG`` (``SIGTERM``), checks the parent is still ``PARENT_PID``, then ``exec``s
COMMAND (the death signal survives ``exec``). The gateway starts the simulated controller this way, so
no simulator outlives a gateway that was killed outright.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
"""prctl(2) option: signal this process when its parent thread dies."""
EXIT_USAGE = 2
EXIT_ORPHANED = 3


def set_parent_death_signal(sig: int) -> bool:
    """Ask the kernel to send ``sig`` when the parent dies (Linux); False where unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--" or not argv[0].isdigit():
        print("usage: python -m gateway.control.guard PARENT_PID -- COMMAND...", file=sys.stderr)
        return EXIT_USAGE
    set_parent_death_signal(signal.SIGTERM)
    if os.getppid() != int(argv[0]):
        return EXIT_ORPHANED
    os.execvp(argv[2], argv[2:])
    return EXIT_USAGE  # not reached: execvp replaces the process or raises


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
