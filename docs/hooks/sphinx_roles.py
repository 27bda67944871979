"""MkDocs hook: show the Sphinx roles of the package's docstrings as plain code in the API reference.

The docstrings cross-reference with Sphinx roles (:class:`~emo_pillars.data.load.load_emo_pillars`), which the
Google-style renderer leaves as text. On the site the role is dropped and a leading ``~`` keeps only the last name,
as Sphinx shows it: ``load_emo_pillars``.
"""

from __future__ import annotations

import re

_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):<code>(~?)([^<]+)</code>")


def _plain(match: re.Match[str]) -> str:
    name = re.sub(r"\s+", "", match.group(2))
    return f"<code>{name.rsplit('.', 1)[-1] if match.group(1) else name}</code>"


def on_page_content(html, page, config, files):
    """Replace ``:role:<code>target</code>`` with ``<code>target</code>`` on the API pages."""
    if not page.file.src_uri.startswith("api/"):
        return html
    return _ROLE.sub(_plain, html)
