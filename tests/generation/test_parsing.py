"""Tests for the reply parsers: a table of realistic teacher replies (clean, odd and broken) and property tests."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emo_pillars.generation.parsing import (
    PARSE_FAILURE_REASONS,
    RESULT_PARSERS,
    ParseResult,
    parse_characters,
    parse_characters_result,
    parse_emotion_scores,
    parse_emotion_scores_result,
    parse_utterances,
    parse_utterances_result,
    strip_code_fences,
)
from emo_pillars.taxonomy import EMOTIONS

RESULT_OF = {
    parse_characters: parse_characters_result,
    parse_utterances: parse_utterances_result,
    parse_emotion_scores: parse_emotion_scores_result,
}

# (id, parser, reply, expected value, expected reason)
CASES = [
    # ----------------------------------------------------------------------------------------------------- characters
    (
        "chars-numbered-descriptions-intro-outro",
        parse_characters,
        "Here are all the characters in the plot:\n\n1. Elizabeth Bennet - the second of five daughters\n"
        "2. Mr. Darcy - a wealthy, proud gentleman\n3. Jane Bennet: Elizabeth's elder sister\n"
        "4. Mr. Bingley (Darcy's friend)\n\nNote: some minor characters are not listed.",
        ["Elizabeth Bennet", "Mr. Darcy", "Jane Bennet", "Mr. Bingley"],
        None,
    ),
    (
        "chars-bold-bullets",
        parse_characters,
        "* **Captain Ahab**: the obsessed captain of the Pequod\n* **Ishmael**: the narrator\n"
        "* **Queequeg**: a harpooner from the South Seas",
        ["Captain Ahab", "Ishmael", "Queequeg"],
        None,
    ),
    (
        "chars-plain-lines",
        parse_characters,
        "Harry Potter\nRon Weasley\nHermione Granger\nAlbus Dumbledore\n",
        ["Harry Potter", "Ron Weasley", "Hermione Granger", "Albus Dumbledore"],
        None,
    ),
    (
        "chars-json-list-in-fence",
        parse_characters,
        'Sure! Here is the list in JSON:\n```json\n["Frodo Baggins", "Samwise Gamgee", "Gollum"]\n```',
        ["Frodo Baggins", "Samwise Gamgee", "Gollum"],
        None,
    ),
    (
        "chars-json-objects",
        parse_characters,
        '{"characters": [{"name": "Elsa", "role": "queen"}, {"name": "Anna", "role": "her sister"}, '
        '{"name": "Olaf"}]}',
        ["Elsa", "Anna", "Olaf"],
        None,
    ),
    (
        "chars-json-name-to-description",
        parse_characters,
        '{"Mowgli": "a boy raised by wolves", "Baloo": "a bear", "Shere Khan": "a tiger"}',
        ["Mowgli", "Baloo", "Shere Khan"],
        None,
    ),
    (
        "chars-comma-one-liner-with-intro",
        parse_characters,
        "The characters in the plot are Romeo, Juliet, Mercutio, Tybalt and Friar Laurence.",
        ["Romeo", "Juliet", "Mercutio", "Tybalt", "Friar Laurence"],
        None,
    ),
    (
        "chars-characters-key-line",
        parse_characters,
        "Characters: Bilbo Baggins, Gandalf, Thorin Oakenshield",
        ["Bilbo Baggins", "Gandalf", "Thorin Oakenshield"],
        None,
    ),
    (
        "chars-dedup-case-insensitive",
        parse_characters,
        "1. Alice\n2. The White Rabbit\n3. ALICE\n4. the white rabbit\n5. The Queen of Hearts",
        ["Alice", "The White Rabbit", "The Queen of Hearts"],
        None,
    ),
    (
        "chars-truncated-description",
        parse_characters,
        "1. Dorothy Gale - a girl from Kansas\n2. Toto - her dog\n3. The Scarecrow (who wants a br",
        ["Dorothy Gale", "Toto", "The Scarecrow"],
        "truncated",
    ),
    (
        "chars-truncated-json",
        parse_characters,
        '["Alice", "Bob", "Car',
        ["Alice", "Bob"],
        "truncated",
    ),
    (
        "chars-sub-bullets-ignored",
        parse_characters,
        "1. Jay Gatsby\n   - A mysterious millionaire\n   - Role: protagonist\n2. Nick Carraway\n"
        "   - The narrator and Gatsby's neighbour",
        ["Jay Gatsby", "Nick Carraway"],
        None,
    ),
    (
        "chars-quoted-lines",
        parse_characters,
        '"Sherlock Holmes"\n"Dr. John Watson"\n"Professor Moriarty"',
        ["Sherlock Holmes", "Dr. John Watson", "Professor Moriarty"],
        None,
    ),
    (
        "chars-name-description-blocks",
        parse_characters,
        "Name: Katniss Everdeen\nDescription: A girl who volunteers as tribute\n\nName: Peeta Mellark\n"
        "Description: The baker's son",
        ["Katniss Everdeen", "Peeta Mellark"],
        None,
    ),
    (
        "chars-narrator-kept-placeholder-dropped",
        parse_characters,
        "- The narrator\n- Tyler Durden\n- Unknown\n- Marla Singer\n- none",
        ["The narrator", "Tyler Durden", "Marla Singer"],
        None,
    ),
    (
        "chars-sentence-lines-dropped",
        parse_characters,
        "The story follows a young orphan named Pip.\nPip\nEstella\nMiss Havisham\nI hope this helps!",
        ["Pip", "Estella", "Miss Havisham"],
        None,
    ),
    (
        "chars-markdown-heading-en-dash",
        parse_characters,
        "### Characters\n1. **Winston Smith** – a low-ranking member of the Party\n2. **Julia** – Winston's lover\n"
        "3. **O'Brien** – an Inner Party member",
        ["Winston Smith", "Julia", "O'Brien"],
        None,
    ),
    (
        "chars-python-list-repr",
        parse_characters,
        "['Anna Karenina', 'Count Vronsky', 'Levin']",
        ["Anna Karenina", "Count Vronsky", "Levin"],
        None,
    ),
    (
        "chars-role-keys-and-pairs",
        parse_characters,
        "Protagonist: Jane Eyre\nAntagonist: Mrs. Reed\nSupporting characters: Timon and Pumbaa",
        ["Jane Eyre", "Mrs. Reed", "Timon", "Pumbaa"],
        None,
    ),
    ("chars-empty", parse_characters, "   \n\n", [], "empty"),
    ("chars-only-fences", parse_characters, "```\n```", [], "empty"),
    ("chars-none", parse_characters, "None.", [], "no_valid_items"),
    # ----------------------------------------------------------------------------------------------------- utterances
    (
        "utt-numbered-label-quotes-intro",
        parse_utterances,
        'Here are 10 utterances for Elizabeth:\n\n1. Joy: "Jane is engaged! I could dance all night."\n'
        '2. Anger: "How dare he insult my family like that?"\n'
        '9. Neutral: "The carriage will arrive at noon."\n10. Neutral: "I should write to Aunt Gardiner tomorrow."',
        [
            ("joy", "Jane is engaged! I could dance all night."),
            ("anger", "How dare he insult my family like that?"),
            ("neutral", "The carriage will arrive at noon."),
            ("neutral", "I should write to Aunt Gardiner tomorrow."),
        ],
        None,
    ),
    (
        "utt-parenthesised-emotion",
        parse_utterances,
        '- (fear) "Something is moving in the dark hold."\n- (relief) "The lantern still works, thank heaven."',
        [("fear", "Something is moving in the dark hold."), ("relief", "The lantern still works, thank heaven.")],
        None,
    ),
    (
        "utt-bold-dash-no-quotes",
        parse_utterances,
        "**Anger** - How dare they take the ship without me!\n**Sadness** - The harbour feels empty tonight.",
        [("anger", "How dare they take the ship without me!"), ("sadness", "The harbour feels empty tonight.")],
        None,
    ),
    (
        "utt-key-value-blocks",
        parse_utterances,
        "Emotion: joy\nUtterance: I finally finished the quilt for Grandma!\n\n"
        "Emotion: Nervousness\nUtterance: What if she doesn't like the colours?",
        [
            ("joy", "I finally finished the quilt for Grandma!"),
            ("nervousness", "What if she doesn't like the colours?"),
        ],
        None,
    ),
    (
        "utt-utterance-then-emotion",
        parse_utterances,
        'Utterance: "I never thought I would see this day."\nEmotion: surprise',
        [("surprise", "I never thought I would see this day.")],
        None,
    ),
    (
        "utt-json-in-fence",
        parse_utterances,
        '```json\n[\n  {"emotion": "Gratitude", "utterance": "Thank you for staying with me."},\n'
        '  {"emotion": "neutral", "utterance": "The tea is ready."}\n]\n```',
        [("gratitude", "Thank you for staying with me."), ("neutral", "The tea is ready.")],
        None,
    ),
    (
        "utt-json-truncated",
        parse_utterances,
        '[\n  {"emotion": "joy", "utterance": "Finally, the harvest is in!"},\n'
        '  {"emotion": "sadness", "utterance": "I miss the old mill."},\n'
        '  {"emotion": "fear", "utterance": "What if the river flo',
        [("joy", "Finally, the harvest is in!"), ("sadness", "I miss the old mill.")],
        "truncated",
    ),
    (
        "utt-json-dict-of-lists",
        parse_utterances,
        '{"pride": "I built this boat with my own hands.", "neutral": ["It is raining again.", "The bus is late."]}',
        [
            ("pride", "I built this boat with my own hands."),
            ("neutral", "It is raining again."),
            ("neutral", "The bus is late."),
        ],
        None,
    ),
    (
        "utt-plain-quoted-no-emotion",
        parse_utterances,
        '"I wonder where the path leads."\n"Maybe I should turn back now."',
        [(None, "I wonder where the path leads."), (None, "Maybe I should turn back now.")],
        None,
    ),
    (
        "utt-utterance-number-with-emotion",
        parse_utterances,
        'Utterance 1 (Joy): "We made it to the summit!"\nUtterance 2 (Disgust): "This soup smells rotten."',
        [("joy", "We made it to the summit!"), ("disgust", "This soup smells rotten.")],
        None,
    ),
    (
        "utt-headers-apply-to-following-lines",
        parse_utterances,
        '**Joy:**\n"I passed the exam!"\n\n**Neutral utterances:**\n1. "The train leaves at six."\n'
        '2. "I need to buy more flour."',
        [
            ("joy", "I passed the exam!"),
            ("neutral", "The train leaves at six."),
            ("neutral", "I need to buy more flour."),
        ],
        None,
    ),
    (
        "utt-trailing-emotion",
        parse_utterances,
        '1. "I can\'t believe you did this to me." (anger)\n2. I miss you every single day. (Sadness)',
        [("anger", "I can't believe you did this to me."), ("sadness", "I miss you every single day.")],
        None,
    ),
    (
        "utt-truncated-last-dropped",
        parse_utterances,
        '1. Joy: "We won!"\n2. Admiration: "She played like a champion."\n3. Fear: "The storm is getting closer and',
        [("joy", "We won!"), ("admiration", "She played like a champion.")],
        "truncated",
    ),
    (
        "utt-truncated-last-kept-when-complete",
        parse_utterances,
        '1. Joy: "We won the final!"\n2. Relief: "Thank goodness everyone is safe.',
        [("joy", "We won the final!"), ("relief", "Thank goodness everyone is safe.")],
        "truncated",
    ),
    (
        "utt-unpunctuated-last-line-truncated",
        parse_utterances,
        "1. Curiosity: What is hidden behind that door?\n2. Excitement: Tomorrow we sail for the islands!\n"
        "3. Love: I will always keep her letters close to my",
        [("curiosity", "What is hidden behind that door?"), ("excitement", "Tomorrow we sail for the islands!")],
        "truncated",
    ),
    (
        "utt-short-and-duplicate-dropped",
        parse_utterances,
        '1. Joy: "Yes!"\n2. Anger: "Get out of my house now!"\n3. Fury: "Get out of my house now!"',
        [("anger", "Get out of my house now!")],
        "partial",
    ),
    (
        "utt-curly-quotes-synonyms-unknown-label",
        parse_utterances,
        "1. Bravery: “I will face the dragon myself.”\n2. Smugness: “I knew I was right all along.”\n"
        "3. Zorblax: “Nobody understands the plan but me.”",
        [
            ("optimism", "I will face the dragon myself."),
            ("pride", "I knew I was right all along."),
            (None, "Nobody understands the plan but me."),
        ],
        None,
    ),
    (
        "utt-unquoted-labels-smollm",
        parse_utterances,
        "Joy: I can't wait to see her again!\nRemorse: I should never have left her alone.\n"
        "Neutral: The kettle is on the stove.",
        [
            ("joy", "I can't wait to see her again!"),
            ("remorse", "I should never have left her alone."),
            ("neutral", "The kettle is on the stove."),
        ],
        None,
    ),
    (
        "utt-square-bracket-labels-and-outro",
        parse_utterances,
        "[Confusion] Why would he lie about the letter?\n[Caring] I'll make sure you get home safely.\n\n"
        "These utterances capture the range of emotions.",
        [("confusion", "Why would he lie about the letter?"), ("caring", "I'll make sure you get home safely.")],
        None,
    ),
    (
        "utt-en-dash-numbered-neutrals",
        parse_utterances,
        '7. Embarrassment – "Did everyone see me trip?"\n8. Neutral 1 – "The meeting starts at ten."\n'
        '9. Neutral 2 – "I left the keys on the table."',
        [
            ("embarrassment", "Did everyone see me trip?"),
            ("neutral", "The meeting starts at ten."),
            ("neutral", "I left the keys on the table."),
        ],
        None,
    ),
    (
        "utt-explanations-and-stage-directions",
        parse_utterances,
        '1. **Excitement**: "We\'re finally going to Paris!"\n   *Explanation: she is thrilled about the trip.*\n'
        '2. Fear: *bites her lip* "What if the plane is late?"',
        [("excitement", "We're finally going to Paris!"), ("fear", "What if the plane is late?")],
        None,
    ),
    ("utt-empty", parse_utterances, "", [], "empty"),
    ("utt-refusal-prose", parse_utterances, "I'm sorry, but I can't help with that request.", [], "no_valid_items"),
    # ------------------------------------------------------------------------------------------------- emotion scores
    (
        "scores-prefilled-clean",
        parse_emotion_scores,
        "1. fear 0.9\n2. nervousness 0.6\n3. sadness 0.4\n4. surprise 0.3\n5. confusion 0.2",
        [("fear", 0.9), ("nervousness", 0.6), ("sadness", 0.4), ("surprise", 0.3), ("confusion", 0.2)],
        None,
    ),
    (
        "scores-mixed-separators",
        parse_emotion_scores,
        "1. anger: 0.8\n2. annoyance - 0.6\n3. disapproval (0.5)\n4. disgust = .3\n5. sadness 0.1",
        [("anger", 0.8), ("annoyance", 0.6), ("disapproval", 0.5), ("disgust", 0.3), ("sadness", 0.1)],
        None,
    ),
    (
        "scores-percent",
        parse_emotion_scores,
        "1. joy 90%\n2. excitement: 70%\n3. pride: 40 %",
        [("joy", 0.9), ("excitement", 0.7), ("pride", 0.4)],
        None,
    ),
    (
        "scores-out-of-ten",
        parse_emotion_scores,
        "1. grief 9/10\n2. sadness: 8/10\n3. love (5/10)",
        [("grief", 0.9), ("sadness", 0.8), ("love", 0.5)],
        None,
    ),
    (
        "scores-bare-zero-to-ten-scale",
        parse_emotion_scores,
        "1. gratitude 9\n2. joy 7\n3. relief 5\n4. love 3\n5. admiration 1",
        [("gratitude", 0.9), ("joy", 0.7), ("relief", 0.5), ("love", 0.3), ("admiration", 0.1)],
        None,
    ),
    (
        "scores-json-dict-fenced",
        parse_emotion_scores,
        'Here is my answer:\n```json\n{"surprise": 0.8, "realization": 0.7, "curiosity": 0.4}\n```',
        [("surprise", 0.8), ("realization", 0.7), ("curiosity", 0.4)],
        None,
    ),
    (
        "scores-json-list-of-objects",
        parse_emotion_scores,
        '[{"emotion": "caring", "score": 0.7}, {"emotion": "love", "score": 0.9}, {"emotion": "Alice", "score": 0.5}]',
        [("love", 0.9), ("caring", 0.7)],
        "partial",
    ),
    (
        "scores-json-list-of-pairs",
        parse_emotion_scores,
        '[["love", 0.9], ["caring", "70%"], ["joy", 0.5]]',
        [("love", 0.9), ("caring", 0.7), ("joy", 0.5)],
        None,
    ),
    ("scores-out-of-taxonomy-only", parse_emotion_scores, "1. plot 0.9\n2. Alice: 0.5", [], "out_of_taxonomy_only"),
    (
        "scores-synonyms-deduplicated-keep-max",
        parse_emotion_scores,
        "1. nervousness 0.5\n2. anxiety 0.8\n3. fear 0.8\n4. worried 0.3",
        [("nervousness", 0.8), ("fear", 0.8)],
        None,
    ),
    (
        "scores-truncated-half-number",
        parse_emotion_scores,
        "1. pride 0.8\n2. joy 0.7\n3. admiration 0.",
        [("pride", 0.8), ("joy", 0.7)],
        "truncated",
    ),
    (
        "scores-truncated-half-name",
        parse_emotion_scores,
        "1. sadness 0.9\n2. grief 0.8\n3. disappoi",
        [("sadness", 0.9), ("grief", 0.8)],
        "truncated",
    ),
    ("scores-prefill-only", parse_emotion_scores, "1. fear", [], "truncated"),
    ("scores-no-scores", parse_emotion_scores, "1. fear\n2. nervousness\n3. sadness", [], "no_scores"),
    (
        "scores-explanation-after",
        parse_emotion_scores,
        "1. joy 0.8\n2. amusement 0.6\n\nExplanation: The character laughs at the joke, showing joy (0.8) and fun.",
        [("joy", 0.8), ("amusement", 0.6)],
        None,
    ),
    (
        "scores-number-above-100-invalid",
        parse_emotion_scores,
        "1. anger 0.9\n2. annoyance 150",
        [("anger", 0.9)],
        "partial",
    ),
    (
        "scores-verbose-labels",
        parse_emotion_scores,
        "1. Fear (expressiveness level: 0.9)\n2. Emotion: sadness, score: 0.4",
        [("fear", 0.9), ("sadness", 0.4)],
        None,
    ),
    (
        "scores-comma-one-liner",
        parse_emotion_scores,
        "fear 0.9, nervousness 0.6; sadness 0.4",
        [("fear", 0.9), ("nervousness", 0.6), ("sadness", 0.4)],
        None,
    ),
    (
        "scores-word-level-skipped",
        parse_emotion_scores,
        "1. fear: high\n2. sadness: 0.4\n3. relief: 0.2",
        [("sadness", 0.4), ("relief", 0.2)],
        "partial",
    ),
    (
        "scores-markdown-and-inflections",
        parse_emotion_scores,
        "1. **Fear**: 0.9\n2. `Confused`: 0.6\n3. Curious - 0.5\n4. *Surprised* (0.3)",
        [("fear", 0.9), ("confusion", 0.6), ("curiosity", 0.5), ("surprise", 0.3)],
        None,
    ),
    (
        "scores-ties-keep-order-of-appearance",
        parse_emotion_scores,
        "1. joy 0.85\n2. relief 0.85\n3. gratitude 0.9",
        [("gratitude", 0.9), ("joy", 0.85), ("relief", 0.85)],
        None,
    ),
    (
        "scores-heading-with-number",
        parse_emotion_scores,
        "Top 5 emotions:\n1. desire 0.7\n2. optimism 0.6",
        [("desire", 0.7), ("optimism", 0.6)],
        None,
    ),
    (
        "scores-number-on-next-line",
        parse_emotion_scores,
        "1. fear\n0.9\n2. nervousness 0.6",
        [("fear", 0.9), ("nervousness", 0.6)],
        None,
    ),
    (
        "scores-numbered-one-liner",
        parse_emotion_scores,
        "1. remorse 0.8, 2. sadness 0.6, 3. embarrassment 0.4",
        [("remorse", 0.8), ("sadness", 0.6), ("embarrassment", 0.4)],
        None,
    ),
    (
        "scores-json-negative-and-null-dropped",
        parse_emotion_scores,
        '{"joy": 0.7, "fear": -0.5, "anger": null}',
        [("joy", 0.7)],
        "partial",
    ),
    ("scores-garbage", parse_emotion_scores, "asdf qwer zxcv", [], "no_valid_items"),
    ("scores-empty", parse_emotion_scores, "", [], "empty"),
]


@pytest.mark.parametrize(("parser", "reply", "expected", "reason"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_reply_shapes(parser, reply, expected, reason):
    assert parser(reply) == expected
    result = RESULT_OF[parser](reply)
    assert result == ParseResult(expected, bool(expected), reason)


def test_table_is_large_and_covers_every_parser():
    assert len(CASES) >= 40
    assert {c[1] for c in CASES} == set(RESULT_OF)
    assert len({c[0] for c in CASES}) == len(CASES)


def test_strip_code_fences_keeps_content_and_handles_unclosed():
    assert strip_code_fences("```json\n[1, 2]\n```") == "[1, 2]"
    assert strip_code_fences("```\nAlice\nBob") == "Alice\nBob"
    assert strip_code_fences('```["a"]```') == '["a"]'
    assert strip_code_fences("```Alice\n```") == "Alice"  # not a language tag
    assert strip_code_fences("no fences here") == "no fences here"


def test_result_parsers_are_keyed_by_stage_name():
    assert dict(RESULT_PARSERS) == {
        "characters": parse_characters_result,
        "utterances": parse_utterances_result,
        "labels": parse_emotion_scores_result,
    }


def test_non_string_input_is_treated_as_empty():
    assert parse_characters_result(None) == ParseResult([], False, "empty")  # type: ignore[arg-type]
    assert parse_emotion_scores(b"fear 0.9") == []  # type: ignore[arg-type]


def test_huge_and_deeply_nested_input_does_not_raise():
    assert parse_characters("[" * 50_000) == []
    assert parse_emotion_scores("{" * 50_000 + '"fear": 0.9') in ([], [("fear", 0.9)])
    huge = "1. fear 0.9\n" + "blah " * 200_000
    assert parse_emotion_scores(huge) == [("fear", 0.9)]
    assert len(parse_utterances('1. Joy: "We did it, at last!"\n' * 5_000)) == 1


# --------------------------------------------------------------------------------------------------------------------
# Property tests
# --------------------------------------------------------------------------------------------------------------------
_PIECES = st.sampled_from(
    [*EMOTIONS, "anxiety", "plot", "Alice", "Mr. Darcy", "1.", "2)", "-", "*", "**", ":", " - ", "(", ")", "[", "]",
     "{", "}", '"', "“", "”", "'", "```", "```json", "\n", "\n\n", " ", ",", "%", "/10", "0.9", ".5", "7", "150",
     "Emotion:", "Utterance:", "Neutral 1:", "Note:", "Here are the characters:", "I can't believe it!"]
)  # fmt: skip
_REPLIES = st.one_of(st.text(max_size=400), st.lists(_PIECES, max_size=60).map("".join))
_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_result(result: ParseResult) -> None:
    assert isinstance(result, ParseResult)
    assert result.ok == bool(result.value)
    assert result.reason is None or result.reason in PARSE_FAILURE_REASONS
    assert result.reason != "internal_error"
    if not result.ok:
        assert result.reason is not None


@_SETTINGS
@given(_REPLIES)
def test_emotion_scores_are_always_valid(reply):
    result = parse_emotion_scores_result(reply)
    _check_result(result)
    names = [name for name, _ in result.value]
    scores = [score for _, score in result.value]
    assert all(name in EMOTIONS for name in names)
    assert len(set(names)) == len(names)
    assert all(isinstance(s, float) and 0.0 <= s <= 1.0 for s in scores)
    assert scores == sorted(scores, reverse=True)
    assert parse_emotion_scores(reply) == result.value


@_SETTINGS
@given(_REPLIES)
def test_utterances_are_always_valid(reply):
    result = parse_utterances_result(reply)
    _check_result(result)
    texts = [text for _, text in result.value]
    assert all(emotion is None or emotion in EMOTIONS for emotion, _ in result.value)
    assert all(isinstance(t, str) and len(t.split()) >= 2 and t == t.strip() for t in texts)
    assert len(set(texts)) == len(texts)
    assert parse_utterances(reply) == result.value


@_SETTINGS
@given(_REPLIES)
def test_characters_are_always_valid(reply):
    result = parse_characters_result(reply)
    _check_result(result)
    folded = [name.casefold() for name in result.value]
    assert len(set(folded)) == len(folded)
    assert all(0 < len(name.split()) <= 6 and name == name.strip() for name in result.value)
    assert parse_characters(reply) == result.value


_TENTHS = st.integers(min_value=0, max_value=10).map(lambda i: i / 10)


@_SETTINGS
@given(
    st.dictionaries(st.sampled_from(EMOTIONS), _TENTHS, min_size=1, max_size=5),
    st.sampled_from(["{i}. {e} {s}", "{i}. {e}: {s}", "- {e} - {s}", "{i}) **{e}** ({s})", "{e} = {s}"]),
)
def test_emotion_scores_round_trip(scores, template):
    lines = [template.format(i=i, e=e, s=s) for i, (e, s) in enumerate(scores.items(), 1)]
    expected = sorted(scores.items(), key=lambda kv: -kv[1])
    assert parse_emotion_scores("\n".join(lines)) == expected
    percent = "\n".join(f"{i}. {e}: {round(s * 100)}%" for i, (e, s) in enumerate(scores.items(), 1))
    assert parse_emotion_scores(percent) == expected


@_SETTINGS
@given(st.lists(st.sampled_from(EMOTIONS), min_size=1, max_size=10, unique=True))
def test_utterances_round_trip(emotions):
    reply = "\n".join(f'{i}. {e.title()}: "Line number {i} about the {e} I feel."' for i, e in enumerate(emotions, 1))
    expected = [(e, f"Line number {i} about the {e} I feel.") for i, e in enumerate(emotions, 1)]
    assert parse_utterances(reply) == expected
