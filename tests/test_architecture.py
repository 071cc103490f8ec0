"""The one-way flow of the design, checked on the source: who may import whom.

``ALLOWED`` is the rule, written for people (docs/ARCHITECTURE.md shows the same table): each
package of ``shopcrm/`` may import the core and the packages listed for it, nothing else. The
check parses every module — every ``__init__.py`` included, nothing exempt — and resolves
relative imports from where the module really is. A self-test plants violations in a copy of
the tree and expects the check to find each one.
"""
from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "shopcrm"

#: Shared by every layer: plain modules that import no package of shopcrm (only each other).
CORE = {"errors", "vocab", "clock", "arrays", "paging", "state", "extensions", "config", "models", "dbutil", "locks",
        "formatting",
        "throttle", "private_files", "request_guard"}  # shared counters, 0600/0700 files, request limits
#: The pure part of the core: what the mining may use beside numpy, SciPy and scikit-learn.
PURE_CORE = {"errors", "vocab", "clock", "arrays"}

#: Who may import whom, beside the core. Data flows shop → mining → segmentation → campaigns →
#: delivery; the panel, the shopper area and the command line only call services.
ALLOWED = {
    "mining": set(),  # numpy / SciPy / scikit-learn and the pure core only (see PURE_CORE)
    "shop": set(),  # reads the shop; knows nothing of what is done with it
    "demo": {"shop"},
    "beacon": {"shop", "mining"},
    "segmentation": {"shop", "beacon", "mining"},
    "delivery": {"shop", "segmentation"},
    "campaigns": {"shop", "segmentation", "delivery", "mining"},
    "customers": {"shop", "segmentation", "delivery"},
    "accounts": {"delivery", "login_throttle"},  # a new password forgets strangers' attempts on the account
    "login_throttle": set(),  # the login's budgets and security log: the core only
    "health": {"shop", "delivery"},
    "panel_settings": {"delivery"},  # the owner's settings over the file's; checks a sender address like delivery does
    "admin": {"accounts", "campaigns", "customers", "delivery", "health", "segmentation", "login_throttle",
              "panel_settings"},
    "public": {"beacon", "delivery", "customers"},
    "cli": {"accounts", "campaigns", "customers", "delivery", "demo", "health", "segmentation", "shop", "beacon",
            "mining", "panel_settings"},
    "__main__": set(),
    "unconfigured": {"cli"},  # the stand-in app while the configuration is wrong lists the real commands' help
    "shopcrm": {"*"},  # shopcrm/__init__.py: the app factory registers everything
}
#: Third-party packages a layer must not touch.
FORBIDDEN_LIBRARIES = {"mining": {"flask", "sqlalchemy", "flask_sqlalchemy", "flask_login", "flask_wtf"}}


def unit_of(parts: tuple[str, ...]) -> str:
    """The package (or core module) a module of shopcrm belongs to: ``shopcrm.shop.readers`` → shop."""
    return "shopcrm" if len(parts) == 1 else parts[1]


def imports_of(path: Path, root: Path) -> list[tuple[str, int]]:
    """Absolute names imported by a file, with line numbers; relative imports resolved from the
    module's own package (for ``x/__init__.py`` that package is ``x`` itself)."""
    parts = path.relative_to(root.parent).with_suffix("").parts
    module = parts[:-1] if parts[-1] == "__init__" else parts
    package = module if parts[-1] == "__init__" else module[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                name = ".".join(base + ((node.module,) if node.module else ()))
            else:
                name = node.module or ""
            found.append((name, node.lineno))
            found += [(f"{name}.{alias.name}", node.lineno) for alias in node.names]
    return found


def violations(root: Path) -> list[str]:
    """Every import that breaks ``ALLOWED``, as 'file:line: who imports what'."""
    problems = []
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        unit = unit_of(parts[:-1] if parts[-1] == "__init__" else parts)
        for name, line in imports_of(path, root):
            top = name.split(".")[0]
            where = f"{path.relative_to(root.parent)}:{line}"
            if top in FORBIDDEN_LIBRARIES.get(unit, ()):
                problems.append(f"{where}: {unit} imports {name}")
            if top != root.name or name == root.name:
                continue
            target = name.split(".")[1]
            if not (root / target).exists() and not (root / f"{target}.py").exists():
                target = root.name  # a name defined in the root package (the app factory)
            if target == unit:
                continue
            if unit in CORE:
                allowed = CORE
            elif unit == "mining":
                allowed = PURE_CORE
            else:
                allowed = CORE | ALLOWED.get(unit, set())
            if "*" in ALLOWED.get(unit, ()) or target in allowed:
                continue
            problems.append(f"{where}: {unit} imports {name}")
    return problems


def test_every_import_follows_the_table():
    assert violations(PACKAGE) == []


def test_every_package_is_in_the_table():
    units = {p.name if p.is_dir() else p.stem for p in PACKAGE.iterdir()
             if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.name != "__init__.py")}
    assert units - CORE - set(ALLOWED) == set(), "a new package needs its line in ALLOWED (and docs/ARCHITECTURE.md)"


PLANTED = [
    # (file, the line planted, what the check must report)
    ("shop/__init__.py", "from ..mining import features", "shop imports shopcrm.mining"),
    ("shop/readers.py", "from ..segmentation import run", "shop imports shopcrm.segmentation"),
    ("mining/__init__.py", "from ..models import Run", "mining imports shopcrm.models"),
    ("mining/rfm.py", "import flask", "mining imports flask"),
    ("admin/__init__.py", "from ..shop import connect_shop", "admin imports shopcrm.shop"),
    ("admin/customers.py", "from ..cli import shopcrm_group", "admin imports shopcrm.cli"),
    ("cli/__init__.py", "from ..admin import bp", "cli imports shopcrm.admin"),
    ("public/__init__.py", "from ..shop import queries", "public imports shopcrm.shop"),
    ("delivery/__init__.py", "from ..campaigns import service", "delivery imports shopcrm.campaigns"),
    ("segmentation/run.py", "from ..campaigns.triggers import run_triggers", "segmentation imports shopcrm.campaigns"),
    ("models/__init__.py", "from ..shop import activity", "models imports shopcrm.shop"),
    ("vocab.py", "from .segmentation import queue", "vocab imports shopcrm.segmentation"),
    ("campaigns/__init__.py", "from .. import create_app", "campaigns imports shopcrm.create_app"),
]


@pytest.mark.parametrize("file,line,expected", PLANTED, ids=[p[0] for p in PLANTED])
def test_the_check_finds_a_planted_violation(tmp_path, file, line, expected):
    copy = tmp_path / "shopcrm"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / file
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    found = violations(copy)
    assert [v for v in found if expected in v and v.startswith(f"shopcrm/{file}:")], found


def test_a_planted_import_inside_a_function_is_found_too(tmp_path):
    copy = tmp_path / "shopcrm"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / "shop" / "readers.py"
    target.write_text(target.read_text(encoding="utf-8") + "\n\ndef later():\n    from .. import admin\n",
                      encoding="utf-8")
    assert any("shop imports shopcrm.admin" in v for v in violations(copy))
