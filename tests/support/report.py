"""Figures a test measures and wants in the run's output even when it passes (the real shop's
ARI and timings, say).

Under pytest-xdist a worker's own output never reaches the terminal, so the lines go into one
file that every process appends to, and the controlling process prints it at the end of the run
(``pytest_terminal_summary`` in ``tests/conftest.py``).
"""
from __future__ import annotations

import os

from .browser import ARTIFACTS

REPORT = ARTIFACTS / "measured.txt"


def report(*lines: str) -> None:
    """Append ``lines`` to this run's report (one write per call, so processes do not interleave)."""
    ARTIFACTS.mkdir(exist_ok=True)
    text = "".join(f"{line}\n" for line in lines).encode()
    fd = os.open(REPORT, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, text)
    finally:
        os.close(fd)
