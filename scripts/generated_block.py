"""A block of a document that a script generates: found between two markers, checked, rewritten.

``settings_table.py`` and ``commands_list.py`` each own one such block; this is their shared
command line (no argument: print; ``--check``: exit 1 when the document differs; ``--write``:
put the block into the document).
"""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path


def documented(text: str, begin: str, end: str) -> str | None:
    """The generated block as it stands in the document (markers included), or None."""
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        return None
    return text[start:stop + len(end)]


def main(argv: list[str], *, document: Path, begin: str, end: str, block: Callable[[], str],
         printed: Callable[[], str], what: str, script: str, usage: str) -> int:
    if not argv:
        sys.stdout.write(printed())
        return 0
    text = document.read_text(encoding="utf-8")
    current = documented(text, begin, end)
    if current is None:
        print(f"{document}: the markers of the {what} are missing", file=sys.stderr)
        return 1
    if argv == ["--check"]:
        if current != block():
            print(f"{document} is out of date: run python scripts/{script} --write", file=sys.stderr)
            return 1
        return 0
    if argv == ["--write"]:
        document.write_text(text.replace(current, block()), encoding="utf-8")
        return 0
    print(usage, file=sys.stderr)
    return 2
