"""Builders shared by the model tests: a tiny random BERT with a WordPiece tokenizer, and a few-row dataset.

Imported by ``tests/training/conftest.py`` and ``tests/test_modeling.py`` (``tests/`` is put on ``sys.path``).
"""

from __future__ import annotations

from pathlib import Path

from emo_pillars.taxonomy import EMOTIONS, NUM_EMOTIONS

_WORDS = (  # noqa: SIM905
    "i you she he they we it is was am are not so very really never always again today finally "
    "love hate fear joy sad happy angry thanks sorry wow what why how oh no yes great terrible "
    "did it can believe remembered birthday exam passed lost won rain picnic ship storm letter home "
    "mara tom ann kai studied night month results posted morning planned weeks friend gone back"
).split()

ROWS = [
    ("I can not believe you remembered my birthday!", ["surprise", "joy"], "Ann", "Tom planned it for weeks."),
    ("Thanks so much, really.", ["gratitude"], "Kai", "A friend came back home."),
    ("Oh no, the ship is gone.", ["sadness", "fear"], "Mara", "The storm hit the ship at night."),
    ("Why did it rain today?", ["annoyance", "disappointment"], "Ann", "Ann planned the picnic for weeks."),
    ("I did it, I passed!", ["joy", "pride"], "Mara", "Mara studied every night for a month."),
    ("I am so sorry.", ["remorse"], "Tom", "Tom lost the letter."),
    ("What is this?", ["confusion", "curiosity"], "Kai", "A letter was posted this morning."),
    ("It is a ship.", ["neutral"], "Tom", "They are home."),
    ("I love you, never go.", ["love", "fear"], "Kai", "The friend is gone again."),
    ("Wow, great results!", ["admiration", "excitement"], "Ann", "The results were posted this morning."),
]


def build_tiny_bert(folder: Path, type_vocab_size: int = 2) -> Path:
    """Save a tiny random ``BertForSequenceClassification`` base (hidden 32, 2 layers) and its WordPiece tokenizer."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *list(".,!?:'"), *sorted(set(_WORDS))]
    vocab += [f"##{c}" for c in "abcdefghijklmnopqrstuvwxyz"] + list("abcdefghijklmnopqrstuvwxyz")
    vocab_ids = {token: i for i, token in enumerate(dict.fromkeys(vocab))}
    tokenizer = BertTokenizerFast(vocab=vocab_ids, do_lower_case=True, model_max_length=128)
    tokenizer.save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        type_vocab_size=type_vocab_size,
    )
    BertModel(config).save_pretrained(folder)
    return folder


def tiny_dataset_dict(contextual: bool = False):
    """A ``DatasetDict`` (train 10, validation 10, test 10 rows) with the Features of ``docs/CONTRACTS.md``."""
    import datasets

    features = {
        "id": datasets.Value("string"),
        "plot_id": datasets.Value("string"),
        "character": datasets.Value("string"),
        "utterance": datasets.Value("string"),
        "primary_emotion": datasets.Value("string"),
        "labels": datasets.Sequence(datasets.ClassLabel(names=list(EMOTIONS))),
        "emotion_scores": datasets.Sequence(datasets.Value("float32"), length=NUM_EMOTIONS),
    }
    if contextual:
        features |= {
            "context": datasets.Value("string"),
            "variant": datasets.ClassLabel(names=["original", "rewritten"]),
            "source_utterance": datasets.Value("string"),
        }
    rows = []
    for i, (utterance, labels, character, context) in enumerate(ROWS):
        scores = [0.0] * NUM_EMOTIONS
        for rank, label in enumerate(labels):
            scores[EMOTIONS.index(label)] = 0.9 - 0.2 * rank
        row = {
            "id": f"p{i:04d}-c00-u00",
            "plot_id": f"p{i:04d}",
            "character": character,
            "utterance": utterance,
            "primary_emotion": labels[0],
            "labels": [EMOTIONS.index(label) for label in labels],
            "emotion_scores": scores,
        }
        if contextual:
            row |= {"context": context, "variant": i % 2, "source_utterance": utterance}
        rows.append(row)
    split = datasets.Dataset.from_list(rows, features=datasets.Features(features))
    return datasets.DatasetDict({"train": split, "validation": split, "test": split})


def write_repository(folder: Path, data, config: str = "context_less") -> Path:
    """``data`` (a ``DatasetDict``) as a dataset repository folder: a README with ``configs`` and one Parquet file
    per split, as ``emo-pillars build-dataset`` lays it out."""
    (folder / config).mkdir(parents=True)
    lines = ["---", "configs:", f"- config_name: {config}", "  data_files:"]
    sizes = ["dataset_info:", f"- config_name: {config}", "  splits:"]
    for split, rows in data.items():
        rows.to_parquet(folder / config / f"{split}.parquet")
        lines += [f"  - split: {split}", f"    path: {config}/{split}.parquet"]
        sizes += [f"  - name: {split}", f"    num_examples: {len(rows)}"]
    (folder / "README.md").write_text("\n".join([*lines, *sizes, "---", ""]), encoding="utf-8")
    return folder


def build_tiny_roberta(
    folder: Path,
    id2label: dict[int, str],
    problem_type: str | None = None,
    seed: int = 0,
    head_bias: dict[int, float] | None = None,
) -> Path:
    """Save a tiny random ``RobertaForSequenceClassification`` shaped like a published checkpoint: a byte-level BPE
    ``RobertaTokenizerFast`` (``model_max_length`` 512), one token type, ``id2label`` as given, and no emo-pillars
    block in its config. ``head_bias`` adds to the output bias of the given outputs (to make one output win)."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaForSequenceClassification, RobertaTokenizerFast

    folder.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    corpus = [" ".join(_WORDS), *(" ".join(row[:1] + (row[2], row[3])) for row in ROWS)]
    bpe.train_from_iterator(corpus, vocab_size=400, min_frequency=1,
                            special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])  # fmt: skip
    bpe.save_model(str(folder))
    tokenizer = RobertaTokenizerFast(
        vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"), model_max_length=512
    )
    tokenizer.save_pretrained(folder)
    torch.manual_seed(seed)
    config = RobertaConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=514, type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2,
        id2label=id2label, label2id={v: k for k, v in id2label.items()}, problem_type=problem_type,
    )  # fmt: skip
    model = RobertaForSequenceClassification(config)
    with torch.no_grad():
        for index, value in (head_bias or {}).items():
            model.classifier.out_proj.bias[index] += value
    model.save_pretrained(folder)
    return folder
