"""Benchmark files written in each official format, quirks included, a few rows each.

Bytes are written exactly (``write_bytes``), so CRLF endings, missing headers and missing final newlines are what
the loaders really see. The fixtures in ``conftest.py`` call these writers.
"""

from __future__ import annotations

from pathlib import Path


def write(path: Path, text: str, newline: str = "\n", final_newline: bool = True) -> Path:
    """Write ``text`` (lines joined by ``\\n``) with the given line ending, with or without a final one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = text.replace("\n", newline)
    path.write_bytes((body + newline if final_newline else body).encode("utf-8"))
    return path


# --------------------------------------------------------------------------------------------------------------------
# GoEmotions: TSV, no header, CSV quoting for fields with '"', comma-separated label ids, LF.
# --------------------------------------------------------------------------------------------------------------------
GOEMOTIONS_TRAIN = (
    "My favourite food is anything I didn't have to cook myself.\t27\teebbqej\n"
    '"He said ""no way"" and left, typical [NAME]."\t3,10\ted00q6i\n'
    "Thank you so much, this made my day!\t15,17\teezlygj\n"
    '"A tab\tinside quotes is still one field"\t27\tee3b6wu\n'
    "WHY WOULD YOU DO THAT\t2\tef4qmod"
)
GOEMOTIONS_DEV = "I'm so sorry for your loss.\t5,16,24\tedgurhb\nThat's hilarious\t1\teda9z2k"
GOEMOTIONS_TEST = "I really hope it works out.\t20\teeibobj\nWait, what?\t6,26\tedyvkfo"


# --------------------------------------------------------------------------------------------------------------------
# ISEAR: '|'-delimited export, 42-column header, trailing '|', texts with '|', 'á' and '\"' artefacts.
# --------------------------------------------------------------------------------------------------------------------
ISEAR_HEADER = (
    "ID|CITY|COUN|SUBJ|SEX|AGE|RELI|PRAC|FOCC|MOCC|FIEL|EMOT|WHEN|LONG|INTS|ERGO|TROPHO|TEMPER|EXPRES|MOVE|EXP1|EXP2|"
    "EXP10|PARAL|CON|EXPC|PLEA|PLAN|FAIR|CAUS|COPING|MORL|SELF|RELA|VERBAL|NEUTRO|Field1|Field3|Field2|MYKEY|SIT|STATE|"
)
ISEAR_NAMES = ("joy", "fear", "anger", "sadness", "disgust", "shame", "guilt")


def isear_line(subject: int, code: int, text: str, state: str = "1", name: str | None = None) -> str:
    """One export line: 39 coded fields (EMOT at 11, Field1 at 36), MYKEY, SIT, STATE and the trailing '|'."""
    coded = ["11001", "1", "1", str(subject), "1", "33"] + ["1"] * 30 + [name or ISEAR_NAMES[(code - 1) % 7], "4", "3"]
    coded[11] = str(code)
    assert len(coded) == 39
    key = f"{subject:05d}{code:02d}"
    return "|".join([*coded, key, text, state]) + "|"


#: (subject, EMOT code, raw SIT, expected clean text); two subjects, every class twice.
ISEAR_ROWS = [
    (1, 1, "During the period of falling in love, each time that we met and á especially when we met.", None),
    (1, 2, "When I was involved in a traffic accident.", None),
    (1, 3, "A motorist ahead of me á refused, despite his  low speed, to let me overtake.", None),
    (1, 4, "When I lost the person who meant the most to me. ", None),
    (1, 5, 'They needed \\clever people\\" and he had á|\\"immediately thought of me.\\""', None),
    (1, 6, "When I did not speak the truth.", None),
    (1, 7, "When I forgot my friend's birthday á|and did not call.", None),
    (2, 1, "Passing my exam.", None),
    (2, 2, "Walking home alone at night.", None),
    (2, 3, "My roommate ate my food.", None),
    (2, 4, "My dog died.", None),
    (2, 5, "Finding a hair in my soup.", None),
    (2, 6, "I fell on stage.", None),
    (2, 7, "I lied to my mother.", None),
]


# --------------------------------------------------------------------------------------------------------------------
# EmoContext: TSV, CRLF, no quoting, header on train only, last line without newline.
# --------------------------------------------------------------------------------------------------------------------
EMOCONTEXT_TRAIN = (
    "id\tturn1\tturn2\tturn3\tlabel\n"
    "0\tDon't worry  I'm girl\thmm how do I know if you are\tWhat's ur name?\tothers\n"
    '1\tWhen did I?\tsaw many times i think "shame"\tNo. I never saw you\tangry\n'
    "2\tBy\tby Google Chrome\tWhere you live\tothers\n"
    "3\tU r ridiculous\tI might be ridiculous but I am telling the truth.\tU little disgusting whore\tangry\n"
    "4\tJust for time pass\twt do u do 4 a living then\tMaybe \tothers\n"
    "5\tI'm so happy today\tthat's great!\tyay :D\thappy\n"
    "6\tmy cat died\toh no\ti miss her so much\tsad"
)
EMOCONTEXT_DEV = '0\tlol\twhat\'s funny\t"you" are funny\thappy\n1\tleave me alone\tok\tI hate you\tangry'
EMOCONTEXT_TEST = "0\thi\thello\thow r u\tothers\n1\tI failed\tsorry to hear\tI feel so low\tsad"


# --------------------------------------------------------------------------------------------------------------------
# IEMOCAP: release layout, SessionN/dialog/{transcriptions,EmoEvaluation}/<dialogue>.txt
# --------------------------------------------------------------------------------------------------------------------
EVAL_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n"


def eval_block(start: float, end: float, turn: str, code: str) -> str:
    """One EmoEvaluation block: the turn line, then per-annotator lines the loader must skip."""
    return (
        f"[{start:.4f} - {end:.4f}]\t{turn}\t{code}\t[2.5000, 2.5000, 2.5000]\n"
        "C-E2:\tNeutral;\t()\n"
        "C-F1:\tNeutral;\t(curious)\n"
        "A-E3:\tval 3; act 2; dom  2;\t()\n"
        "\n"
    )


#: dialogue -> (session, [(turn id, start, end, text, code or None)]) in *file* order (not always by time).
IEMOCAP_DIALOGUES = {
    "Ses01F_impro01": (
        1,
        [
            ("Ses01F_impro01_F000", 6.2901, 8.2357, "Excuse me.", "neu"),
            ("Ses01F_impro01_F001", 10.0100, 11.3925, "Yeah.", "neu"),  # listed before M000, which starts earlier
            ("Ses01F_impro01_M000", 8.5000, 10.4750, "Do you have your forms?", "fru"),
            ("Ses01F_impro01_MXX0", 12.0000, 12.5000, "[LAUGHTER]", None),  # transcribed, never labelled
            ("Ses01F_impro01_F002", 13.0000, 15.0000, "This is so exciting!", "exc"),
            ("Ses01F_impro01_M001", 15.5000, 17.0000, "I can't believe it.", "sur"),  # dropped code
        ],
    ),
    "Ses01M_script01_1": (
        1,
        [
            ("Ses01M_script01_1_M000", 1.0, 2.0, "Get out of here.", "ang"),
            ("Ses01M_script01_1_F000", 2.5, 4.0, "I'm so happy for you.", "hap"),
            ("Ses01M_script01_1_M001", 4.5, 6.0, "I miss her.", "sad"),
        ],
    ),
    "Ses05F_impro02": (
        5,
        [
            ("Ses05F_impro02_F000", 0.5, 1.5, "Hi there.", "neu"),
            ("Ses05F_impro02_M000", 2.0, 3.0, "Leave me alone!", "ang"),
            ("Ses05F_impro02_F001", 3.5, 5.0, "What happened?", "xxx"),
        ],
    ),
}


def write_iemocap(root: Path, dialogues: dict = IEMOCAP_DIALOGUES) -> Path:
    for dialogue, (session, turns) in dialogues.items():
        base = root / f"Session{session}" / "dialog"
        transcript = "".join(f"{t} [{s:08.4f}-{e:08.4f}]: {text}\n" for t, s, e, text, _ in turns)
        write(base / "transcriptions" / f"{dialogue}.txt", transcript.rstrip("\n"))
        ordered = sorted((t for t in turns if t[4] is not None), key=lambda t: t[1])
        evaluation = EVAL_HEADER + "\n" + "".join(eval_block(s, e, t, c) for t, s, e, _, c in ordered)
        write(base / "EmoEvaluation" / f"{dialogue}.txt", evaluation.rstrip("\n"))
    return root
