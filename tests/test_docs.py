"""The documentation: the README stays one screen whose links resolve, and the mkdocs site builds
with ``--strict`` (a broken link, a missing anchor, a page left out of the nav or an API page that
names a module that moved fails the build), with an API page for every library module."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
"""Inline markdown links ``[text](target)`` (images excluded)."""


def _relative_links(markdown: str) -> list[str]:
    """Targets of the inline links that point into the repository (no scheme, no bare anchor);
    links inside fenced code blocks are not links."""
    text = re.sub(r"```.*?```", "", markdown, flags=re.S)
    return [
        target
        for target in LINK.findall(text)
        if not re.match(r"[a-z][a-z0-9+.-]*:", target) and not target.startswith("#")
    ]


def _slug(heading: str) -> str:
    """The anchor mkdocs (Python-Markdown's toc) and GitHub both give a plain heading."""
    from markdown.extensions.toc import slugify

    return slugify(re.sub(r"[`*]", "", heading), "-")


def test_readme_is_one_screen() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 100, f"README.md has {len(lines)} lines: move detail into docs/"


def test_readme_links_resolve() -> None:
    links = _relative_links(README.read_text(encoding="utf-8"))
    assert links, "README.md links into docs/"
    broken = []
    for target in links:
        path, _, anchor = target.partition("#")
        file = (README.parent / path).resolve()
        if not file.exists():
            broken.append(f"{target}: no file {path}")
            continue
        if anchor and file.suffix == ".md":
            headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", file.read_text(encoding="utf-8"), re.M)
            if anchor not in {_slug(h) for h in headings}:
                broken.append(f"{target}: no heading with anchor #{anchor} in {path}")
    assert not broken, "README.md links that do not resolve:\n" + "\n".join(broken)


def test_readme_commands_are_make_targets() -> None:
    """Every ``make <target>`` the README names exists in the Makefile."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([A-Za-z][\w-]*):", makefile, re.M))
    named = set(re.findall(r"(?:^|`)make ([a-z][\w-]*)", README.read_text(encoding="utf-8"), re.M))
    assert {"run", "test", "test-all", "docs"} <= named
    assert named <= targets, f"README names make targets the Makefile lacks: {named - targets}"


def _api_modules() -> set[str]:
    text = "\n".join(p.read_text(encoding="utf-8") for p in (DOCS / "api").glob("*.md"))
    return set(re.findall(r"^::: ([\w.]+)\s*$", text, re.M))


def test_every_library_module_has_an_api_page() -> None:
    src = ROOT / "src"
    modules = {
        ".".join(p.relative_to(src).with_suffix("").parts).removesuffix(".__init__")
        for p in (src / "glassworks").rglob("*.py")
    }
    missing = sorted(modules - _api_modules())
    assert not missing, (
        f"modules without an API entry (add `::: <module>` to its package's docs/api/ page): "
        f"{missing}"
    )


def test_nav_lists_every_page() -> None:
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=yaml.BaseLoader)

    def pages(node: object) -> list[str]:
        if isinstance(node, str):
            return [node]
        if isinstance(node, list):
            return [p for item in node for p in pages(item)]
        if isinstance(node, dict):
            return [p for value in node.values() for p in pages(value)]
        return []

    in_nav = set(pages(config["nav"]))
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert on_disk == in_nav


def test_site_builds_strict(tmp_path: Path) -> None:
    """``mkdocs build --strict``: every warning (broken link or anchor, a page missing from the
    nav, an API page naming a module that does not exist, a docstring the handler cannot parse)
    is an error."""
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (site / "index.html").is_file()
    api = (site / "api" / "explain" / "index.html").read_text(encoding="utf-8")
    assert "integrated_gradients" in api, "the API pages render the library's docstrings"
    assert ":func:" not in api, "reST roles in docstrings render as code (docs/_ext)"


@pytest.mark.parametrize(
    ("docstring", "expected"),
    [
        (":func:`summarise` and :class:`Encoder`", "`summarise` and `Encoder`"),
        (":meth:`~a.B.c`, ``literal``", "`a.B.c`, ``literal``"),
        ("no roles here", "no roles here"),
    ],
)
def test_rest_roles_become_code(docstring: str, expected: str) -> None:
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        from griffe_roles import strip_roles
    finally:
        sys.path.remove(str(DOCS / "_ext"))
    assert strip_roles(docstring) == expected
