"""Griffe extension for the API pages (loaded by mkdocstrings, see mkdocs.yml).

The library's docstrings cross-reference with reST roles (``:func:`summarise```,
``:class:`Encoder```). Markdown has no roles and would print ``:func:`` in front of the code span;
this drops the role and keeps the name as code (``~`` prefixes, which shorten a dotted name in
Sphinx, are removed too). Nothing in ``src/`` changes.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|obj|exc|const):`~?([^`]+)`")


def strip_roles(text: str) -> str:
    """``:func:`x``` -> ```x```: the role goes, the name stays a code span."""
    return ROLE.sub(r"`\1`", text)


class ReSTRoles(Extension):
    """Rewrites the roles in every docstring as it is loaded."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = strip_roles(obj.docstring.value)
