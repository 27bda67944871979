"""MkDocs hook: the Results page is ``research/RESULTS.md``, read at build time, so the narrative has one copy.

``research/RESULTS.md`` links to its result files relative to ``research/`` (so the links work on GitHub and in a
checkout). Those files are outside ``docs_dir``, where a link would fail the strict build, so on the site each such
link becomes the file's repository path in code font.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

SOURCE = Path("research") / "RESULTS.md"
PAGE = "results.md"
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def _repository_path(match: re.Match[str]) -> str:
    text, target = match.group(1), match.group(2)
    if "://" in target or target.startswith(("#", "mailto:")):
        return match.group(0)
    path = posixpath.normpath(posixpath.join("research", target))
    name = text.strip("`")
    return f"`{path}`" if name in (path, posixpath.basename(path), target) else f"{text} (`{path}`)"


def on_page_markdown(markdown, page, config, files):
    """Replace the Results page's body with ``research/RESULTS.md``, its file links turned into paths."""
    if page.file.src_uri != PAGE:
        return markdown
    source = Path(config["config_file_path"]).parent / SOURCE
    return _LINK.sub(_repository_path, source.read_text(encoding="utf-8"))
