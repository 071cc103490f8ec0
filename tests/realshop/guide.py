"""The blocks of docs/OPENCART.md that the real-shop test carries out as written.

Each block the test uses is a fenced code block preceded by a marker line
``<!-- realshop: NAME -->``. The test runs these blocks (with this machine's names and
passwords put in for the guide's placeholders), so a guide that no longer works fails the test.
"""
from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "OPENCART.md"
_BLOCK = re.compile(r"<!-- realshop: (?P<name>[\w-]+) -->\s*\n```[\w-]*\n(?P<body>.*?)\n```", re.S)


@lru_cache(maxsize=1)
def blocks() -> dict[str, str]:
    text = GUIDE.read_text(encoding="utf-8")
    found: dict[str, str] = {}
    for match in _BLOCK.finditer(text):
        assert match.group("name") not in found, f"{GUIDE}: the block {match.group('name')!r} appears twice"
        found[match.group("name")] = match.group("body")
    return found


def block(name: str) -> str:
    found = blocks()
    assert name in found, f"{GUIDE} has no block marked <!-- realshop: {name} --> (it has {sorted(found)})"
    return found[name]


def substituted(name: str, replacements: dict[str, str]) -> str:
    """The block with each placeholder replaced; every placeholder must occur in it."""
    text = block(name)
    for placeholder, value in replacements.items():
        assert placeholder in text, f"{GUIDE}, block {name!r}: the placeholder {placeholder!r} is gone"
        text = text.replace(placeholder, value)
    return text


def settings(name: str = "settings") -> dict[str, object]:
    """The ``KEY = value`` lines of a settings block, as Python values."""
    values = {}
    for node in ast.parse(block(name)).body:
        assert isinstance(node, ast.Assign) and len(node.targets) == 1, \
            f"{GUIDE}, block {name!r}: only KEY = value lines belong in a settings block"
        values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


def preset_for(version: str) -> str:
    """The preset the guide's table names for an OpenCart release: the row that mentions it
    (``| OpenCart 3.x (tested with 3.0.5.0) | `opencart3` |``)."""
    text = GUIDE.read_text(encoding="utf-8")
    rows = [preset for row, preset in re.findall(r"^\| (OpenCart [^|]*)\| `(\w+)` \|", text, re.M)
            if re.search(rf"(?<![\d.]){re.escape(version)}(?![\d.])", row)]
    assert len(rows) == 1, f"{GUIDE}: expected one row of the preset table naming OpenCart {version}, found {rows}"
    return rows[0]
