"""The 28 GoEmotions classes: names, definitions, Ekman and sentiment groups, synonyms, and the benchmarks' label maps.

The default :class:`~emo_pillars.taxonomy.model.Taxonomy` (``goemotions``) is built from these constants; the
benchmarks (ISEAR, EmoContext, IEMOCAP) map their labels into the 28 here.

Examples:
    >>> from emo_pillars.taxonomy import EMOTIONS, normalize_emotion
    >>> EMOTIONS[0], EMOTIONS[-1]
    ('admiration', 'neutral')
    >>> normalize_emotion("Furious!"), normalize_emotion("plot")
    ('anger', None)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from .words import normalize_word

__all__ = [
    "EMOTIONS",
    "NUM_EMOTIONS",
    "NEUTRAL",
    "label2id",
    "id2label",
    "DEFINITIONS",
    "EKMAN_GROUPS",
    "EKMAN_LABELS",
    "SENTIMENT_GROUPS",
    "SENTIMENT_LABELS",
    "SYNONYMS",
    "TaskLabelMap",
    "TASK_LABEL_MAPS",
    "ISEAR_TO_EMOTIONS",
    "EMOCONTEXT_TO_EMOTIONS",
    "IEMOCAP_TO_EMOTIONS",
    "normalize_emotion",
    "emotion_to_ekman",
    "emotion_to_sentiment",
    "format_definitions",
]

#: The 28 GoEmotions classes in canonical output-index order; ``neutral`` is last (index 27).
EMOTIONS: tuple[str, ...] = (
    "admiration",
    "amusement",
    "anger",
    "annoyance",
    "approval",
    "caring",
    "confusion",
    "curiosity",
    "desire",
    "disappointment",
    "disapproval",
    "disgust",
    "embarrassment",
    "excitement",
    "fear",
    "gratitude",
    "grief",
    "joy",
    "love",
    "nervousness",
    "optimism",
    "pride",
    "realization",
    "relief",
    "remorse",
    "sadness",
    "surprise",
    "neutral",
)
NUM_EMOTIONS = len(EMOTIONS)
NEUTRAL = "neutral"

label2id: Mapping[str, int] = MappingProxyType({name: i for i, name in enumerate(EMOTIONS)})
id2label: Mapping[int, str] = MappingProxyType(dict(enumerate(EMOTIONS)))

#: One-line definitions written for this project; the generation prompts quote them verbatim.
DEFINITIONS: Mapping[str, str] = MappingProxyType(
    {
        "admiration": "warm respect for someone's qualities, skill or deeds, finding them impressive or worthy",
        "amusement": "finding something funny or entertaining, the urge to laugh or smile at it",
        "anger": "strong hostility towards someone or something felt to have wronged or blocked you",
        "annoyance": "mild irritation or impatience at a nuisance, a delay or a repeated bother",
        "approval": "judging that an idea, act or person is acceptable, right or good, and agreeing with it",
        "caring": "concern for the wellbeing of another and the wish to help, protect or comfort them",
        "confusion": "being unable to make sense of what is happening or what someone means",
        "curiosity": "an eager wish to know more, to find out how or why something is as it is",
        "desire": "a strong wish to have, do or experience something or someone",
        "disappointment": "sadness that a hope or expectation was not met or that someone let you down",
        "disapproval": "judging that an idea, act or person is wrong or unacceptable, and objecting to it",
        "disgust": "revulsion at something felt to be foul, offensive or morally repugnant",
        "embarrassment": "self-conscious discomfort, shame or awkwardness at being seen in a bad light",
        "excitement": "an energetic, eager thrill about something happening now or about to happen",
        "fear": "alarm at a threat or danger, the wish to escape or be protected from harm",
        "gratitude": "thankfulness towards someone for a kindness, help or gift received",
        "grief": "deep sorrow over a loss, above all the death of someone loved",
        "joy": "happiness and delight, a sense that things are good right now",
        "love": "deep affection, tenderness or attachment towards someone or something",
        "nervousness": "uneasy worry or anxiety about something uncertain that may go wrong",
        "optimism": "hope and confidence that the future will turn out well",
        "pride": "satisfaction in one's own achievements or in those of someone close",
        "realization": "the moment of suddenly understanding or becoming aware of something",
        "relief": "release from worry or distress once a danger or burden has passed",
        "remorse": "regret and guilt for something one did wrong, with the wish to undo it",
        "sadness": "feeling low, unhappy or sorrowful",
        "surprise": "being startled or astonished by something unexpected",
        "neutral": "no particular emotion is expressed; a plain, matter-of-fact statement",
    }
)

#: Ekman's six basic emotions grouping of GoEmotions (neutral maps to ``neutral``).
EKMAN_GROUPS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "anger": ("anger", "annoyance", "disapproval"),
        "disgust": ("disgust",),
        "fear": ("fear", "nervousness"),
        "joy": (
            "joy",
            "amusement",
            "approval",
            "excitement",
            "gratitude",
            "love",
            "optimism",
            "relief",
            "pride",
            "admiration",
            "desire",
            "caring",
        ),
        "sadness": ("sadness", "disappointment", "embarrassment", "grief", "remorse"),
        "surprise": ("surprise", "realization", "confusion", "curiosity"),
    }
)
EKMAN_LABELS: tuple[str, ...] = (*EKMAN_GROUPS, NEUTRAL)

#: Sentiment grouping of GoEmotions (neutral maps to ``neutral``).
SENTIMENT_GROUPS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "positive": (
            "amusement",
            "excitement",
            "joy",
            "love",
            "desire",
            "optimism",
            "caring",
            "pride",
            "admiration",
            "gratitude",
            "relief",
            "approval",
        ),
        "negative": (
            "fear",
            "nervousness",
            "remorse",
            "embarrassment",
            "disappointment",
            "sadness",
            "grief",
            "disgust",
            "anger",
            "annoyance",
            "disapproval",
        ),
        "ambiguous": ("realization", "surprise", "curiosity", "confusion"),
    }
)
SENTIMENT_LABELS: tuple[str, ...] = (*SENTIMENT_GROUPS, NEUTRAL)

_EKMAN_OF = {fine: group for group, fines in EKMAN_GROUPS.items() for fine in fines} | {NEUTRAL: NEUTRAL}
_SENTIMENT_OF = {fine: group for group, fines in SENTIMENT_GROUPS.items() for fine in fines} | {NEUTRAL: NEUTRAL}


def emotion_to_ekman(emotion: str) -> str:
    """Return the Ekman-6 group (or ``neutral``) of one of the 28 classes."""
    return _EKMAN_OF[emotion]


def emotion_to_sentiment(emotion: str) -> str:
    """Return ``positive``, ``negative``, ``ambiguous`` or ``neutral`` for one of the 28 classes."""
    return _SENTIMENT_OF[emotion]


# --------------------------------------------------------------------------------------------------------------------
# Synonyms: free-text emotion words, as an LLM writes them, mapped to the closest of the 28 classes.
# Keys are lower-case lemmas or common inflections; the normaliser also strips affixes and filler words itself.
# --------------------------------------------------------------------------------------------------------------------
_SYNONYM_GROUPS: dict[str, tuple[str, ...]] = {
    "admiration": (
        "admire", "admiring", "admired", "awe", "awed", "in awe", "respect", "respectful", "reverence", "esteem",
        "appreciation", "appreciative", "appreciate", "impressed", "wonder", "veneration", "adoration of", "praise",
        "hero worship", "idolization", "fascination", "fascinated",
    ),
    "amusement": (
        "amused", "amusing", "funny", "humor", "humour", "humorous", "laughter", "laughing", "laugh", "mirth",
        "glee", "gleeful", "playful", "playfulness", "entertained", "hilarity", "hilarious", "chuckle", "giggle",
        "teasing", "whimsy", "silliness", "sarcasm", "sarcastic", "wry", "irony", "ironic",
    ),
    "anger": (
        "angry", "angered", "furious", "fury", "rage", "enraged", "raging", "wrath", "outrage", "outraged",
        "indignation", "indignant", "hostility", "hostile", "hatred", "hate", "mad", "livid", "irate", "resentment",
        "resentful", "bitterness", "bitter", "vengeful", "vengeance", "revenge", "spite", "spiteful", "aggression",
        "aggressive", "defiance", "defiant", "contempt", "scorn", "jealousy", "jealous", "envy", "envious",
        "betrayal", "betrayed", "vindictive", "animosity", "belligerence", "loathing",
    ),
    "annoyance": (
        "annoyed", "annoying", "irritation", "irritated", "irritable", "frustration", "frustrated", "exasperation",
        "exasperated", "impatience", "impatient", "agitation", "agitated", "vexation", "vexed", "bothered",
        "displeasure", "displeased", "grumpy", "peeved", "irked", "exhaustion", "exhausted", "tired", "weariness",
        "weary", "boredom", "bored", "fed up", "stubbornness", "stubborn", "cranky",
    ),
    "approval": (
        "approve", "approving", "approved", "agreement", "agree", "acceptance", "accepting", "endorsement",
        "support", "supportive", "satisfaction", "satisfied", "content", "contentment", "encouragement",
        "encouraging", "validation", "affirmation", "assent", "acknowledgement", "acknowledgment", "trust",
        "trusting", "confidence in", "loyalty", "loyal", "commitment", "committed",
    ),
    "caring": (
        "care", "cares", "concern", "concerned", "compassion", "compassionate", "sympathy", "sympathetic", "empathy",
        "empathetic", "protectiveness", "protective", "tenderness", "kindness", "kind", "nurturing", "worry for",
        "pity", "mercy", "merciful", "consideration", "considerate", "solicitude", "devotion", "devoted",
        "responsibility", "responsible", "duty", "dutiful", "reassurance", "reassuring", "comforting", "generosity",
        "generous", "selflessness",
    ),
    "confusion": (
        "confused", "confusing", "puzzled", "puzzlement", "bewilderment", "bewildered", "perplexed", "perplexity",
        "baffled", "bafflement", "uncertainty", "uncertain", "unsure", "disoriented", "disorientation",
        "ambivalence", "ambivalent", "doubt", "doubtful", "hesitation", "hesitant", "indecision", "indecisive",
        "conflicted", "skepticism", "skeptical", "sceptical", "suspicion", "suspicious", "distrust", "mistrust",
    ),
    "curiosity": (
        "curious", "inquisitive", "inquisitiveness", "interest", "interested", "intrigue", "intrigued",
        "intriguing", "wondering", "eagerness to know", "inquiry", "nosy", "nosiness", "questioning", "investigative",
    ),
    "desire": (
        "desirous", "want", "wanting", "longing", "yearning", "craving", "lust", "passion", "passionate", "wish",
        "wishing", "greed", "greedy", "ambition", "ambitious", "temptation", "tempted", "hunger", "thirst",
        "covetousness", "coveting", "determination", "determined", "resolve", "resolute", "urge", "attraction",
        "attracted", "infatuation", "infatuated", "aspiration", "motivation", "motivated", "eager", "eagerness",
    ),
    "disappointment": (
        "disappointed", "disappointing", "letdown", "let down", "disillusionment", "disillusioned",
        "discouragement", "discouraged", "dismay", "dismayed", "dissatisfaction", "dissatisfied", "regretful",
        "defeat", "defeated", "deflated", "disheartened", "resignation", "resigned", "failure", "thwarted",
    ),
    "disapproval": (
        "disapprove", "disapproving", "disagreement", "disagree", "objection", "criticism", "critical",
        "condemnation", "condemning", "judgment", "judgement", "judgmental", "rejection", "rejecting",
        "disdain", "disdainful", "reproach", "reproachful", "censure", "opposition", "protest", "righteousness",
        "self-righteousness", "moral outrage", "distaste",
    ),
    "disgust": (
        "disgusted", "disgusting", "revulsion", "revolted", "repulsion", "repulsed", "repugnance", "nausea",
        "nauseated", "sickened", "abhorrence", "aversion", "grossed out", "gross", "horror at", "detest",
        "detestation", "odious", "vile",
    ),
    "embarrassment": (
        "embarrassed", "embarrassing", "shame", "ashamed", "shameful", "humiliation", "humiliated", "awkwardness",
        "awkward", "mortification", "mortified", "self-consciousness", "self-conscious", "sheepish", "shy",
        "shyness", "bashful", "bashfulness", "flustered", "chagrin", "insecurity", "insecure", "inadequacy",
        "inferiority", "vulnerability", "vulnerable", "timid", "timidity",
    ),
    "excitement": (
        "excited", "exciting", "thrill", "thrilled", "enthusiasm", "enthusiastic", "exhilaration", "exhilarated",
        "anticipation", "eager anticipation", "elation", "elated", "euphoria", "euphoric", "exuberance",
        "exuberant", "energized", "energetic", "adrenaline", "zeal", "zest", "rapture", "ecstasy", "ecstatic",
        "triumph", "triumphant", "victorious", "adventurous", "invigorated",
    ),
    "fear": (
        "afraid", "fearful", "scared", "frightened", "fright", "terror", "terrified", "horror", "horrified",
        "panic", "panicked", "dread", "alarm", "alarmed", "phobia", "intimidated", "intimidation", "threatened",
        "petrified", "spooked", "paranoia", "paranoid", "desperation", "desperate", "helplessness", "helpless",
        "powerless", "powerlessness", "trapped", "cowardice",
    ),
    "gratitude": (
        "grateful", "gratefulness", "thankful", "thankfulness", "thanks", "thank", "thanking", "appreciated",
        "indebted", "obliged", "indebtedness", "recognition",
    ),
    "grief": (
        "grieving", "grieve", "mourning", "mourn", "bereavement", "bereaved", "heartbreak", "heartbroken",
        "anguish", "devastation", "devastated", "sorrow", "sorrowful", "loss", "lamentation", "lament",
        "despair", "despairing", "desolation", "desolate", "agony", "tragic",
    ),
    "joy": (
        "happy", "happiness", "joyful", "joyous", "delight", "delighted", "glad", "gladness", "cheerful",
        "cheerfulness", "cheer", "bliss", "blissful", "pleasure", "pleased", "jubilation", "jubilant", "merriment",
        "merry", "elatedness", "enjoyment", "enjoy", "fun", "contented", "serenity", "serene", "peace", "peaceful",
        "calm", "calmness", "tranquility", "tranquillity", "comfort", "comforted", "satisfaction with life",
        "wellbeing", "euphoric joy", "celebration", "celebratory", "freedom", "liberation", "playful joy",
    ),
    "love": (
        "loving", "loved", "affection", "affectionate", "adoration", "adore", "adoring", "fondness", "fond",
        "romance", "romantic", "attachment", "infatuation with", "warmth", "intimacy", "intimate", "cherish",
        "cherishing", "devotion to", "friendship", "belonging", "kinship", "camaraderie", "companionship", "nostalgia",
        "nostalgic", "sentimental", "sentimentality",
    ),
    "nervousness": (
        "nervous", "anxiety", "anxious", "worry", "worried", "worrying", "unease", "uneasy", "apprehension",
        "apprehensive", "tension", "tense", "stress", "stressed", "restless", "restlessness", "jittery", "jitters",
        "on edge", "edgy", "trepidation", "fretful", "fretting", "overwhelmed", "overwhelm", "pressure",
        "pressured", "insomnia", "dread of", "foreboding", "misgiving", "suspense", "caution", "cautious",
        "wariness", "wary", "vigilance", "vigilant", "guardedness", "guarded",
    ),
    "optimism": (
        "optimistic", "hope", "hopeful", "hopefulness", "hoping", "positivity", "positive", "confident",
        "confidence", "faith", "encouraged", "expectant", "expectation", "anticipating", "upbeat", "assured",
        "assurance", "courage", "courageous", "brave", "bravery", "resilience", "resilient", "inspiration",
        "inspired", "reassured", "bold", "boldness",
    ),
    "pride": (
        "proud", "pridefulness", "self-respect", "dignity", "accomplishment", "accomplished", "achievement",
        "self-satisfaction", "self-satisfied", "smugness", "smug", "vanity", "vain", "arrogance", "arrogant",
        "honor", "honour", "honored", "honoured", "conceit", "conceited", "self-esteem", "superiority", "hubris",
        "fulfillment", "fulfilment", "fulfilled", "victory",
    ),
    "realization": (
        "realize", "realise", "realizing", "realising", "realisation", "epiphany", "insight", "understanding",
        "recognizing", "awareness", "aware", "enlightenment", "enlightened", "revelation", "discovery", "dawning",
        "clarity", "comprehension", "acceptance of truth", "reflection", "reflective", "contemplation",
        "contemplative", "introspection", "introspective", "pensive", "thoughtful", "thoughtfulness",
    ),
    "relief": (
        "relieved", "relieving", "reassurance that", "release", "respite", "easing", "unburdened", "solace",
        "consolation", "consoled", "deliverance", "rescue", "rescued", "safety", "safe",
    ),
    "remorse": (
        "remorseful", "guilt", "guilty", "regret", "regretting", "repentance", "repentant", "contrition",
        "contrite", "penitence", "penitent", "apologetic", "apology", "sorry", "self-reproach", "self-blame",
        "culpability", "conscience", "atonement",
    ),
    "sadness": (
        "sad", "unhappy", "unhappiness", "sorrow of", "melancholy", "melancholic", "depression", "depressed",
        "gloom", "gloomy", "misery", "miserable", "downcast", "dejection", "dejected", "despondency", "despondent",
        "heartache", "blue", "down", "upset", "hurt", "pain", "wistful", "wistfulness", "loneliness", "lonely",
        "isolation", "isolated", "homesickness", "homesick", "longing for home", "hopelessness", "hopeless",
        "distress", "distressed", "suffering", "tearful", "crying", "weeping", "woe", "sympathy for oneself",
        "self-pity", "empty", "emptiness", "numb", "numbness", "abandonment", "abandoned", "rejected",
    ),
    "surprise": (
        "surprised", "surprising", "astonishment", "astonished", "amazement", "amazed", "shock", "shocked",
        "startled", "stunned", "disbelief", "incredulity", "incredulous", "awe-struck", "awestruck", "dumbfounded",
        "flabbergasted", "speechless", "taken aback", "unexpected", "wonderment", "bemused",
    ),
    "neutral": (
        "neutrality", "indifference", "indifferent", "apathy", "apathetic", "calm neutral",
        "matter-of-fact", "factual", "objective", "detached", "detachment", "impassive", "unemotional", "stoic",
        "stoicism", "composure", "composed", "emotionless", "plain", "informative", "descriptive", "observational",
        "nonchalance", "nonchalant", "blase",
    ),
}  # fmt: skip

SYNONYMS: Mapping[str, str] = MappingProxyType(
    {word: emotion for emotion, words in _SYNONYM_GROUPS.items() for word in words} | {e: e for e in EMOTIONS}
)


def normalize_emotion(word: str | None) -> str | None:
    """Map a free-text emotion word, as an LLM writes it, to one of the 28 classes.

    Case, accents, quotes, list markers, trailing punctuation, scores and filler words ("a deep sense of") are
    ignored; inflections and synonyms are resolved through :data:`SYNONYMS` and a few suffix rules
    (:func:`~emo_pillars.taxonomy.words.normalize_word`).

    Args:
        word: The word or short phrase, e.g. ``"Happiness"``, ``"furious"``, ``"2. Anxious (0.6)"``.

    Returns:
        The class name from :data:`EMOTIONS`, or ``None`` when the text names no emotion (a character's name,
        ``"plot"``, an empty string).

    Examples:
        >>> normalize_emotion("Thankful."), normalize_emotion("hopeful"), normalize_emotion("Alice")
        ('gratitude', 'optimism', None)
    """
    return normalize_word(word, SYNONYMS)


# --------------------------------------------------------------------------------------------------------------------
# Downstream task label maps
# --------------------------------------------------------------------------------------------------------------------
class TaskLabelMap(dict):
    """A task's labels mapped into the 28 classes, with the reason for each choice.

    Behaves like ``dict[str, str]`` (task label -> class name); :attr:`reasons` documents every entry.

    Examples:
        >>> ISEAR_TO_EMOTIONS["guilt"], ISEAR_TO_EMOTIONS.reasons["guilt"][:10]
        ('remorse', 'GoEmotions')
    """

    def __init__(self, entries: Iterable[tuple[str, str, str]]):
        entries = list(entries)
        super().__init__((label, emotion) for label, emotion, _ in entries)
        self.reasons: dict[str, str] = {label: reason for label, _, reason in entries}
        for label, emotion in self.items():
            if emotion not in label2id:
                raise ValueError(f"task label {label!r} maps to {emotion!r}, which is not one of the 28 classes")

    def to_ids(self) -> dict[str, int]:
        """Task label -> index of its class in :data:`EMOTIONS`."""
        return {label: label2id[emotion] for label, emotion in self.items()}


ISEAR_TO_EMOTIONS = TaskLabelMap(
    [
        ("joy", "joy", "Same concept and name in both taxonomies."),
        ("fear", "fear", "Same concept and name in both taxonomies."),
        ("anger", "anger", "Same concept and name in both taxonomies."),
        ("sadness", "sadness", "Same concept and name in both taxonomies."),
        ("disgust", "disgust", "Same concept and name in both taxonomies."),
        (
            "shame",
            "embarrassment",
            "GoEmotions has no 'shame'; its embarrassment class covers self-conscious distress at being seen badly, "
            "which is how ISEAR's shame reports read (exposure before others).",
        ),
        (
            "guilt",
            "remorse",
            "GoEmotions defines remorse as regret and guilt for a wrong one did; ISEAR's guilt reports describe "
            "exactly that.",
        ),
    ]
)

EMOCONTEXT_TO_EMOTIONS = TaskLabelMap(
    [
        ("happy", "joy", "EmoContext's 'happy' is broad positive affect; joy is the GoEmotions class for it."),
        ("sad", "sadness", "Same concept."),
        ("angry", "anger", "Same concept; annoyance-level turns are also labelled angry in EmoContext."),
        (
            "others",
            "neutral",
            "'others' means none of the three target emotions; the closest single class is neutral, and the "
            "official metric ignores this class anyway.",
        ),
    ]
)

IEMOCAP_TO_EMOTIONS = TaskLabelMap(
    [
        ("happy", "joy", "Happiness maps to joy."),
        (
            "excited",
            "excitement",
            "A GoEmotions class of the same name; the 4-way protocol merges it with happy, which the task keeps.",
        ),
        ("sad", "sadness", "Same concept."),
        ("angry", "anger", "Same concept."),
        ("neutral", "neutral", "Same concept."),
        (
            "frustrated",
            "annoyance",
            "Frustration is irritation at being blocked, closer to annoyance (mild, impatient) than to anger.",
        ),
    ]
)

TASK_LABEL_MAPS: Mapping[str, TaskLabelMap] = MappingProxyType(
    {"isear": ISEAR_TO_EMOTIONS, "emocontext": EMOCONTEXT_TO_EMOTIONS, "iemocap": IEMOCAP_TO_EMOTIONS}
)


def format_definitions(emotions: Iterable[str] = EMOTIONS, numbered: bool = False) -> str:
    """Render class definitions as lines ``name: definition`` for prompts.

    Args:
        emotions: The classes to include, in order.
        numbered: Prefix each line with ``1.``, ``2.``, ...

    Returns:
        One line per class.
    """
    lines = []
    for i, name in enumerate(emotions, 1):
        prefix = f"{i}. " if numbered else "- "
        lines.append(f"{prefix}{name}: {DEFINITIONS[name]}")
    return "\n".join(lines)
