"""``emo-pillars taxonomy``: show and validate a taxonomy, or map free-text emotion words to its labels.

emo-pillars taxonomy show ekman          # a built-in: labels, definitions, groupings, source, hash
emo-pillars taxonomy show my_labels.yaml # a file: validated (one line and exit 2 when it is wrong), then shown
emo-pillars taxonomy Furious anxious     # words -> labels of the default taxonomy (--taxonomy for another)
"""

from __future__ import annotations

import argparse

from ..errors import InputError
from ..taxonomy import Taxonomy, load_taxonomy

NAME = "taxonomy"
HELP = "Show and validate a taxonomy (show NAME|FILE), or map emotion words to its labels."


def register_subcommand(p: argparse.ArgumentParser) -> None:
    """The options of ``emo-pillars taxonomy``."""
    p.add_argument(
        "words",
        nargs="*",
        help="'show [NAME|FILE]' to print a taxonomy (default: goemotions), or emotion words to map to its labels.",
    )
    p.add_argument("--taxonomy", default=None, metavar="NAME|FILE", help="The taxonomy words are mapped to.")


def _show(taxonomy: Taxonomy) -> None:
    print(f"{taxonomy.name}: {len(taxonomy)} labels, content hash {taxonomy.content_hash}")
    if taxonomy.description:
        print(taxonomy.description)
    if taxonomy.source:
        print(f"source: {taxonomy.source}")
    print(f"neutral: {taxonomy.neutral or '(none)'}")
    levels = list(taxonomy.groupings)
    views = {level: taxonomy.roll_up(level) for level in levels}
    width = max(len(name) for name in taxonomy.labels)
    widths = {level: max(len(level), *(len(g) for g in views[level].values())) for level in levels}
    print(f"{'':>3} {'label':<{width}}  " + "".join(f"{level:<{widths[level]}}  " for level in levels) + "definition")
    for i, name in enumerate(taxonomy.labels):
        groups = "".join(f"{views[level][name]:<{widths[level]}}  " for level in levels)
        print(f"{i:>3} {name:<{width}}  {groups}{taxonomy.definitions[name]}")


def run(args: argparse.Namespace) -> int:
    """Show a taxonomy or map words to its labels."""
    words = list(args.words)
    if words[:1] == ["show"]:
        if len(words) > 2:
            raise InputError("show takes one taxonomy: a built-in name or a .yaml/.json file", field="taxonomy")
        _show(load_taxonomy(words[1] if len(words) == 2 else args.taxonomy))
        return 0
    taxonomy = load_taxonomy(args.taxonomy)
    if not words:
        _show(taxonomy)
        return 0
    width = max(len(w) for w in words)
    for word in words:
        print(f"{word:<{width}}  ->  {taxonomy.normalize(word) or '(not a label)'}")
    return 0
