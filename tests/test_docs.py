"""The documentation against the code: it may not rot, and it may not point outside the repository.

* README.md stays short (at most 150 lines) and indexes every file of docs/;
* no link in README.md or docs/*.md leaves the repository: no http(s) or other scheme, no path
  that resolves outside the checkout, nothing under ``../shared``; every relative link names a
  file that exists, and every ``#anchor`` a heading of its target;
* the settings table of docs/CONFIGURATION.md is what ``scripts/settings_table.py`` prints from
  ``shopcrm.config.SETTINGS``, and every setting says what it does;
* the command reference of docs/COMMANDS.md is what ``scripts/commands_list.py`` prints from the
  click group, every registered command has help text and appears in the overview too;
* the import table of docs/ARCHITECTURE.md is ``CORE``, ``PURE_CORE`` and ``ALLOWED`` of
  tests/test_architecture.py (read from its source, not imported: test modules do not import
  each other).
"""
from __future__ import annotations

import ast
import re
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
MAX_README_LINES = 150

FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
CODE_SPAN = re.compile(r"(`+)(?:.+?)\1", re.S)
INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)
AUTOLINK = re.compile(r"<([a-zA-Z][a-zA-Z0-9+.-]*:[^>\s]*)>")
BARE_URL = re.compile(r"\b(?:https?|ftp)://[^\s)>\]]+")
HTML_HREF = re.compile(r"""<(?:a|img)\b[^>]*\b(?:href|src)\s*=\s*["']([^"']*)["']""", re.I)
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def documents() -> list[Path]:
    return [README, *sorted(DOCS.glob("*.md"))]


def prose(text: str) -> str:
    """The text without fenced code blocks and code spans (where a URL is an example, not a link)."""
    return CODE_SPAN.sub("", FENCE.sub("", text))


def links(text: str) -> list[str]:
    """Every link target a Markdown renderer would follow."""
    body = prose(text)
    found = INLINE_LINK.findall(body) + REFERENCE_LINK.findall(body) + AUTOLINK.findall(body)
    found += HTML_HREF.findall(body)
    found += BARE_URL.findall(INLINE_LINK.sub("", AUTOLINK.sub("", body)))
    return found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, markup and punctuation dropped, spaces to '-'."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").strip().lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LNM")
    return kept.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """The anchors of a Markdown file's headings (duplicates numbered as GitHub does)."""
    found, seen = set(), {}
    for line in FENCE.sub("", path.read_text(encoding="utf-8")).splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not match:
            continue
        base = slug(match.group(1))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken(document: Path, target: str) -> str | None:
    """What is wrong with one link target of ``document``, or None."""
    if "../shared" in target:
        return "points into ../shared, which a user's clone does not have"
    if SCHEME.match(target) or target.startswith("//"):
        return "points outside the repository"
    path_part, _, anchor = target.partition("#")
    resolved = (document.parent / path_part).resolve() if path_part else document.resolve()
    if resolved != ROOT and ROOT not in resolved.parents:
        return "resolves outside the repository"
    if not resolved.exists():
        return "names a file that does not exist"
    if anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
        return f"names a heading #{anchor} that {resolved.relative_to(ROOT)} does not have"
    return None


def run_script(name: str) -> str:
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / name)], capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return result.stdout


def between(text: str, begin: str, end: str) -> str:
    start, stop = text.find(begin), text.find(end)
    assert start >= 0 and stop > start, f"the markers {begin!r} … {end!r} are missing"
    return text[start + len(begin):stop]


# --- README ----------------------------------------------------------------------------------------

def test_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; move detail into docs/"


def test_readme_indexes_every_document_in_docs():
    text = README.read_text(encoding="utf-8")
    missing = [p.name for p in sorted(DOCS.glob("*.md")) if f"docs/{p.name}" not in text]
    assert missing == [], f"README.md's docs index lacks {missing}"


# --- links -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("document", documents(), ids=lambda p: p.name)
def test_no_link_leaves_the_repository(document):
    text = document.read_text(encoding="utf-8")
    assert "../shared" not in text, f"{document.name} mentions ../shared, which a user's clone does not have"
    problems = [f"{target}: {why}" for target in links(text) if (why := broken(document, target))]
    assert problems == [], f"{document.relative_to(ROOT)}: " + "; ".join(problems)


def test_the_link_check_finds_what_it_must(tmp_path):
    """The check above, on planted links: each bad kind is found, the good ones pass."""
    page = DOCS / "PLANTED.md"  # never written: ``broken`` only resolves paths against it
    assert broken(page, "https://example.com/") and broken(page, "mailto:a@b.c")
    assert broken(page, "../../shared/DESIGN.md") and broken(page, "../../outside.md")
    assert broken(page, "NO-SUCH-FILE.md") and broken(page, "CONFIGURATION.md#no-such-heading")
    assert broken(page, "CONFIGURATION.md#every-setting") is None
    assert broken(page, "../deploy/cron/shopcrm") is None
    text = ("[a](https://x.org) <http://y.org> see http://z.org\n[r]: ../../shared/D.md\n"
            "`http://in.code/` and\n```\nhttp://in.fence/\n```\n")
    assert set(links(text)) == {"https://x.org", "http://y.org", "http://z.org", "../../shared/D.md"}


def test_anchors_are_github_slugs():
    assert slug("1. LAMP: Debian 12 or Ubuntu 24.04") == "1-lamp-debian-12-or-ubuntu-2404"
    assert slug("`campaign create`") == "campaign-create"
    assert slug("5. The view beacon in the shop's product page") == "5-the-view-beacon-in-the-shops-product-page"


# --- generated tables ------------------------------------------------------------------------------

def test_settings_table_matches_the_code():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import settings_table
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    documented = between((DOCS / "CONFIGURATION.md").read_text(encoding="utf-8"),
                         settings_table.BEGIN, settings_table.END)
    assert documented.strip() == run_script("settings_table.py").strip(), (
        "docs/CONFIGURATION.md's settings table differs from shopcrm/config.py: "
        "run python scripts/settings_table.py --write")


def test_every_setting_says_what_it_does():
    from shopcrm.config import SETTINGS

    assert [s.key for s in SETTINGS if not s.help.strip()] == []


def test_every_setting_is_in_the_table():
    from shopcrm.config import SETTINGS

    text = (DOCS / "CONFIGURATION.md").read_text(encoding="utf-8")
    assert [s.key for s in SETTINGS if f"| `{s.key}` | `{s.env_name}` |" not in text] == []


def registered_commands() -> list[tuple[str, object]]:
    import click

    from shopcrm.cli import shopcrm_group

    def walk(group, path):
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if isinstance(command, click.Group):
                yield from walk(command, path + (name,))
            else:
                yield " ".join(path + (name,)), command

    return list(walk(shopcrm_group, ()))


def test_command_reference_matches_the_code():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import commands_list
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    documented = between((DOCS / "COMMANDS.md").read_text(encoding="utf-8"), commands_list.BEGIN, commands_list.END)
    assert documented.strip() == run_script("commands_list.py").strip(), (
        "docs/COMMANDS.md's command reference differs from the commands: run python scripts/commands_list.py --write")


def test_every_command_has_help_and_is_documented():
    text = (DOCS / "COMMANDS.md").read_text(encoding="utf-8")
    overview = text[:text.find("## Reference")]
    commands = registered_commands()
    assert len(commands) >= 20
    assert [path for path, command in commands if not (command.help or "").strip()] == []
    assert [path for path, _ in commands if f"### `{path}`" not in text] == [], "missing from the reference"
    assert [path for path, _ in commands if f"`{path}`" not in overview] == [], "missing from 'Which command when'"


# --- the import table ------------------------------------------------------------------------------

def literal(node: ast.AST):
    """A literal of test_architecture.py, where ``set()`` is an empty set."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "set" and not node.args:
        return set()
    if isinstance(node, ast.Dict):
        return {literal(k): literal(v) for k, v in zip(node.keys, node.values)}
    return ast.literal_eval(node)


def architecture_rules() -> dict[str, object]:
    tree = ast.parse((ROOT / "tests" / "test_architecture.py").read_text(encoding="utf-8"))
    wanted = {"CORE", "PURE_CORE", "ALLOWED"}
    return {target.id: literal(node.value) for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name) and target.id in wanted}


def documented_rules(text: str) -> dict[str, object]:
    def names(fragment: str) -> set[str]:
        return set(re.findall(r"`([^`]+)`", fragment))

    core = re.search(r"^\*\*Core\*\* \(`CORE`;[^)]*\): (.*?)\n\n", text, re.M | re.S)
    pure = re.search(r"^\*\*Pure core\*\* \(`PURE_CORE`;[^)]*\): (.*?)\n\n", text, re.M | re.S)
    assert core and pure, "docs/ARCHITECTURE.md lost its Core / Pure core lines"
    allowed = {}
    table = text[text.find("| package | may import, beside the core |"):]
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        allowed[cells[0].strip("`")] = names(cells[1])
    return {"CORE": names(core.group(1)), "PURE_CORE": names(pure.group(1)), "ALLOWED": allowed}


def test_architecture_table_is_the_one_the_test_enforces():
    documented = documented_rules((DOCS / "ARCHITECTURE.md").read_text(encoding="utf-8"))
    enforced = architecture_rules()
    assert documented["CORE"] == enforced["CORE"]
    assert documented["PURE_CORE"] == enforced["PURE_CORE"]
    assert documented["ALLOWED"] == enforced["ALLOWED"]
