"""``emo-pillars taxonomy``: print the 28 classes with their definitions, or normalise emotion words."""

from __future__ import annotations

import argparse

from ..taxonomy import DEFINITIONS, EMOTIONS, emotion_to_ekman, emotion_to_sentiment, normalize_emotion

NAME = "taxonomy"
HELP = "Print the 28 classes with their definitions, or normalise emotion words."


def register_subcommand(p: argparse.ArgumentParser) -> None:
    """The options of ``emo-pillars taxonomy``."""
    p.add_argument("words", nargs="*", help="Free-text emotion words to map to classes (none: list the classes).")


def run(args: argparse.Namespace) -> int:
    """Print the mapping of each word, or the classes."""
    if args.words:
        width = max(len(w) for w in args.words)
        for word in args.words:
            print(f"{word:<{width}}  ->  {normalize_emotion(word) or '(not an emotion)'}")
        return 0
    for i, name in enumerate(EMOTIONS):
        print(f"{i:>2}  {name:<15} {emotion_to_ekman(name):<9} {emotion_to_sentiment(name):<9}  {DEFINITIONS[name]}")
    return 0
