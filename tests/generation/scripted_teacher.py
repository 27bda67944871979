"""A deterministic scripted teacher for orchestration tests: replies depend only on the prompt.

It answers each stage in a shape a real chat model uses, including the odd cases the pipeline must handle:
a character with a reply that cannot be parsed, out-of-taxonomy labels, and an utterance scored below the
threshold on every emotion.
"""

from __future__ import annotations

import hashlib
import re
import time

from emo_pillars.generation.backends import ChatPrompt, ScriptedBackend

EMOTION_CYCLE = ["joy", "anger", "fear", "sadness", "gratitude", "pride", "relief", "surprise"]


def _pick(text: str, options: list[str]) -> str:
    return options[int(hashlib.sha256(text.encode()).hexdigest(), 16) % len(options)]


def respond(prompt: ChatPrompt) -> str:
    text = prompt.messages[-1][1]
    if text.startswith("Read the story synopsis"):
        plot = text.split("Synopsis:", 1)[1].split("\n\nWrite ", 1)[0]
        names = sorted(set(re.findall(r"\b([A-Z][a-z]{3,})\b", plot)) - {"After", "With", "When", "Meanwhile"})[:3]
        return " " + "\n".join(f"{i}. {name}" for i, name in enumerate(names, 1))[3:] if names else " none"
    if "Imagine you are" in text:
        character = re.search(r"Imagine you are (.+?) from this story", text).group(1)
        if character.startswith("Z"):
            return "I cannot write that."  # unparsable: no utterances
        assigned = re.search(r"in this order: (.+?)\. Then", text)
        emotions = assigned.group(1).split(", ") if assigned else EMOTION_CYCLE
        lines = [f'{emotions[0]}: "At last, {character} is home again!"']
        lines += [f'{e}: "This is what {character} feels about {e} today."' for e in emotions[1:3]]
        lines += ['neutral: "The boat has two oars."']
        return "\n".join(lines)
    if text.startswith("Here is a set of emotions"):
        utterance = re.search(r'Utterance: "(.*)"', text).group(1)
        if "oars" in utterance:
            return " 0.2\n2. calm 0.1"  # everything below the threshold: dropped
        second = _pick(utterance, ["sadness", "hope", "Odysseus", "plot", "nervousness"])
        return f" 0.9\n2. {second}: 0.6\n3. surprise (0.3)\n4. confusion - 0.2\n5. admiration 0.1"
    if text.startswith("Story synopsis:"):
        character = re.search(r"At some moment of this story, (.+?) thinks aloud", text).group(1)
        return f"Context: After a long journey, {character} finally sees the island. {character} is overjoyed."
    if text.startswith("The text below describes"):
        body = text.split("Text:\n", 1)[1].split("\n\nRewrite", 1)[0]
        return " ".join(s for s in body.split(". ") if "overjoyed" not in s).rstrip(".") + "."
    if "thinks aloud:" in text:
        utterance = re.search(r'thinks aloud: "(.*)"', text).group(1)
        return f'"{utterance.rstrip("!.")}, then."'
    raise AssertionError(f"unexpected prompt: {text[:80]!r}")


def scripted_teacher(delay_s: float = 0.0) -> ScriptedBackend:
    """The scripted teacher; ``delay_s`` sleeps per call (to kill a run mid-stage)."""

    def reply(prompt: ChatPrompt) -> str:
        if delay_s:
            time.sleep(delay_s)
        return respond(prompt)

    return ScriptedBackend(reply, name="scripted-teacher")


#: Plots for runs with ``moods_teacher``: two named characters each.
MOODS_PLOTS = [
    f"{a} and {b} wait at the harbour for the ship of plot {i}."
    for i, (a, b) in enumerate([("Mara", "Tomas"), ("Anna", "Kaito"), ("Linus", "Greta")])
]


def moods_teacher(prompt: ChatPrompt) -> str:
    """A teacher that reads the prompt: the assigned emotions, then ``calm`` lines; labels with one outsider."""
    text = prompt.messages[-1][1]
    if text.startswith("Read the story synopsis"):
        plot = text.split("Synopsis:", 1)[1]
        return " " + "\n".join(f"{i}. {n}" for i, n in enumerate(re.findall(r"\b([A-Z][a-z]{3,})\b", plot)[:2], 1))[3:]
    if "Imagine you are" in text:
        character = re.search(r"Imagine you are (.+?) from this story", text).group(1)
        assigned = re.search(r"in this order: (.+?)\.", text).group(1).split(", ")
        lines = [f'{e}: "{character} thinks of {e} by the water today."' for e in assigned]
        lines += [f'calm: "The harbour has {n} boats tied up."' for n in ("two", "three")]
        if character == "Greta":
            lines[0] = f'{assigned[0]}: "I am a hero, I am a hero, I am a hero."'  # a loop: dropped
        return "\n".join(lines)
    if text.startswith("Here is a set of emotions"):
        return " 0.9\n2. joy 0.6\n3. hopeful 0.5\n4. grief 0.4\n5. calm 0.1"  # joy is not a label
    raise AssertionError(text[:80])
