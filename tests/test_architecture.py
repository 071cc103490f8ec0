"""The one-way flow of the design, checked on the source: who may import whom."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "shopcrm"


def imports_of(path: Path) -> set[str]:
    """Absolute module names imported by a file (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{alias.name}" for alias in node.names)
    return found


def python_files(folder: Path):
    return sorted(p for p in folder.rglob("*.py"))


@pytest.mark.parametrize("path", python_files(PACKAGE / "mining"), ids=lambda p: p.name)
def test_mining_is_plain_computation(path):
    forbidden = ("flask", "sqlalchemy", "flask_sqlalchemy", "shopcrm.extensions", "shopcrm.models",
                 "shopcrm.shop", "shopcrm.pipeline")
    bad = {name for name in imports_of(path) if name.split(".")[0] in forbidden[:3] or name.startswith(forbidden[3:])}
    assert not bad, f"{path.name} imports {sorted(bad)}"


def test_nothing_imports_the_admin_or_the_cli():
    for path in python_files(PACKAGE):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in ("admin", "cli.py") or rel.as_posix() == "__init__.py":
            continue  # the app factory registers them; they may import themselves
        bad = {n for n in imports_of(path) if n.startswith(("shopcrm.admin", "shopcrm.cli"))}
        assert not bad, f"{rel} imports {sorted(bad)}"


def test_the_shop_side_does_not_reach_into_campaigns_or_views():
    for path in python_files(PACKAGE / "shop"):
        bad = {n for n in imports_of(path)
               if n.startswith(("shopcrm.campaigns", "shopcrm.admin", "shopcrm.public", "shopcrm.pipeline"))}
        assert not bad, f"{path.name} imports {sorted(bad)}"
