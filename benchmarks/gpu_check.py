"""GPU check: the pipeline's generation throughput with a Mistral-7B-Instruct-v0.2-shaped teacher, turned into the
device-hour budget of the paper's workload.

    python benchmarks/gpu_check.py                # one GPU, emo_pillars installed: sized for < 8 minutes
    PYTHONPATH=. python benchmarks/gpu_check.py   # the same from a checkout, nothing installed
    python benchmarks/gpu_check.py --dry-run      # CPU, a tiny Mistral shape, under a minute: the same table
    bash benchmarks/gpu_check_bundle.sh DIR       # the wheel and scripts for a GPU machine without a registry

What it measures: for each stage the library runs (characters, utterances, labels, context, context cleaning,
rewriting), the seconds the pipeline's :class:`TransformersBackend` takes to answer one full batch of that stage's
real prompts, and so its calls/s; the label stage twice, in ``label_mode="generate"`` (the paper's generated top-5
list, budget 100 tokens) and in ``label_mode="score"`` (one forward pass scoring all 28 emotion names) on the same
utterances. Calls/s x the paper's calls per stage = GPU-hours per stage; their sum is set against the paper's 450
H100-hours. Nothing is compared with another engine here: ``generation.py`` measures the backend against a bare
``model.generate`` loop.

* **Model**: ``MistralForCausalLM`` built from a ``MistralConfig`` of Mistral-7B-Instruct-v0.2's exact shape (hidden
  4096, 32 layers, 32 heads, 8 key/value heads, MLP 14336, vocabulary 32,000, rope theta 1e6, no sliding window,
  32,768 positions), RANDOM weights, bf16, built directly on the GPU: no download, no checkpoint on disk. The
  backend takes the built model object (``backend.model``, ``backend.tokenizer``: ``load()`` keeps a set model).
  ``--dry-run``: the same code on CPU with hidden 64, 2 layers, 4 heads, 2 key/value heads, MLP 128.
* **Tokenizer**: Mistral's is not on the machine, and SmolLM2's (packaged as GGUF) has 49,152 tokens. So a
  byte-level BPE is trained on the fly with ``tokenizers`` (vocabulary target 32,000) on the texts of the first 64
  prompts of each stage below, with Mistral-7B-Instruct-v0.2's ``[INST] ... [/INST]`` chat template. Those texts
  are small, so training stops at about 2,600 real tokens; the rest of the 32,000 ids are filler entries that only
  decoding meets (a random model emits any id). On those 448 prompts it counts 0.94x the tokens SmolLM2's
  tokenizer counts (180,781 against 192,223; 1.24 tokens a word against 1.32; 0.89x-0.96x by stage): prompt
  lengths are approximately right, likely a little short of Mistral's. Replies are random text, which is fine for
  throughput and says nothing about quality.
* **Prompts**: built by the library's own stages (``emo_pillars.generation.stages``, the default
  ``GenerationConfig``: its templates, prefills, 28 definitions and reply budgets of 300/500/100/160/160/80 tokens)
  from the bundled demo synopses. Distinct plots are made by reordering each demo synopsis's sentences (seeded);
  utterances are plot sentences behind a first-person lead; 15 characters a plot. The reply-shape constraints are
  left off (xgrammar is not on the machine; ``generation.py --constraints`` measured the grammar at 1.6% of the
  time). The demo synopses are shorter than most WikiPlots synopses, so the plot-bearing stages' prompts are too.
* **Lengths**: random weights never stop on their own, so every reply runs to its stage's full budget
  (``ignore_eos``); the paper's teacher stops earlier (a 5-line label list is ~40 tokens of its 100). The hours
  are an upper bound for the same batches.
* **Batches**: each stage is timed on one full batch: as many prompts as the backend's token budget holds
  (``--max-batch-tokens``, 262,144 on GPU: 32 GB of key/value cache; rows x (longest prompt + budget)), at most
  ``--max-prompts`` (1,024). A pipeline run batches alike with ``--max-batch-tokens 262144 --batch-size 1024`` and
  a ``--chunk-size`` of a few hundred plots (its characters stage gets one prompt per plot of a chunk); with its
  defaults (16 plots a chunk, 64 prompts a call) batches are smaller and calls/s lower. The prefix cache is on and
  emptied before each stage, so each stage pays for encoding its shared prefixes once. One untimed warm-up call
  comes first.

Calls per stage (the paper's workload, ``budget.py``): 2,000 plots; 15 characters each (30,000 utterance calls);
10 utterances each (300,000 label calls); a third of them contextual (100,000 calls each for context, cleaning
and rewriting): 632,000 calls, against the paper's "about 700K calls in about 450 H100-hours".

The table is Markdown. A GPU run writes its figures to ``benchmarks/results/gpu-check-<device>.json`` (or
``--output``); a dry run writes nothing unless ``--output`` is given, its numbers being those of a toy model.
Needs torch, transformers >= 5 and the emo_pillars package; nothing else (no datasets, gguf or xgrammar).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
import sys
import time
from pathlib import Path

import torch
from budget import CHARACTERS, CONTEXTUAL_FRACTION, PAPER_HOURS, PLOTS, UTTERANCES

from emo_pillars.generation.backends import ChatPrompt, DecodingConfig
from emo_pillars.generation.config import GenerationConfig
from emo_pillars.generation.stages import NON_NEUTRAL, SCORE_CONTINUATIONS, STAGE_CLASSES, LabelsStage
from emo_pillars.narratives import load_narratives

RESULTS = Path(__file__).resolve().parent / "results"
SEED = 0
VOCAB = 32000
#: Prompts a stage whose texts train the tokenizer (the same set in a dry run and on the GPU).
TRAINING_PROMPTS = 64
#: Mistral-7B-Instruct-v0.2's chat template (single user turn, optional assistant prefill).
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}"
    "{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}"
    "{{ message['content'] + eos_token }}{% endif %}{% endfor %}"
)
MISTRAL_7B = {"hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
              "num_attention_heads": 32, "num_key_value_heads": 8}  # fmt: skip
TINY = {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2}  # fmt: skip
CONTEXTUAL = round(PLOTS * CHARACTERS * UTTERANCES * CONTEXTUAL_FRACTION)
#: The paper's calls per table row (label rows: the same 300,000 calls in either mode).
CALLS = {
    "characters": PLOTS,
    "utterances": PLOTS * CHARACTERS,
    "labels (generated)": PLOTS * CHARACTERS * UTTERANCES,
    "labels (scored)": PLOTS * CHARACTERS * UTTERANCES,
    "context": CONTEXTUAL,
    "context_cleaning": CONTEXTUAL,
    "rewriting": CONTEXTUAL,
}
LEADS = ("I keep thinking that", "Nobody believes me, but", "I cannot forget that", "It still matters to me that",
         "I never told anyone that", "Somehow I always knew that")  # fmt: skip


# ----------------------------------------------------------------------------------------------------- workload
def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def plot_variants(n: int) -> list[tuple[str, str]]:
    """``n`` distinct synopses ``(id, text)``: the demo synopses, then their sentences in seeded orders."""
    plots = load_narratives(None)
    out = [(p.id, p.text) for p in plots]
    rng = random.Random(SEED)
    while len(out) < n:
        plot = plots[len(out) % len(plots)]
        parts = sentences(plot.text)
        rng.shuffle(parts)
        out.append((f"{plot.id}-v{len(out)}", " ".join(parts)))
    return out[:n]


def character_names(text: str) -> list[str]:
    """Capitalised words of a synopsis, most frequent first: stand-ins for stage 1's output."""
    words = [w.strip(".,;:!?'\"()") for w in text.split()]
    counts: dict[str, int] = {}
    for word in words:
        if word[:1].isupper() and len(word) > 3 and word.isalpha():
            counts[word] = counts.get(word, 0) + 1
    return sorted(counts, key=lambda w: (-counts[w], w))


def build_rows(n: int) -> dict[str, list[dict]]:
    """``n`` rows per stage, shaped as the pipeline hands them to each stage (15 characters a plot, in plot order)."""
    plots = plot_variants(n)
    pool = [name for _, text in plots[:13] for name in character_names(text)]
    people = []
    for plot_id, text in plots:
        names = list(dict.fromkeys(character_names(text) + pool))[:CHARACTERS]
        people += [{"plot_id": plot_id, "plot": text, "character": name} for name in names]
        if len(people) >= n:
            break
    said = [s for _, text in plots for s in sentences(text)]
    thoughts = []
    for k, person in enumerate(people[:n]):
        sentence = said[k % len(said)]
        utterance = f"{LEADS[k % len(LEADS)]} {sentence[0].lower()}{sentence[1:]}"
        emotions = [NON_NEUTRAL[k % 27], NON_NEUTRAL[(7 * k + 3) % 27]]
        context = " ".join(sentences(person["plot"])[:4])
        thoughts.append({**person, "utterance": utterance, "primary_emotion": emotions[0], "labels": emotions,
                         "context": context})  # fmt: skip
    return {
        "characters": [{"plot": text} for _, text in plots[:n]],
        "utterances": people[:n],
        "labels": thoughts,
        "context": thoughts,
        "context_cleaning": thoughts,
        "rewriting": thoughts,
    }


def stage_prompts(rows: dict[str, list[dict]]) -> dict[str, tuple[list[ChatPrompt], int]]:
    """Per table row: the library's prompts (default config, constraints left off) and the reply budget."""
    config = GenerationConfig()
    out = {}
    for name, cls in STAGE_CLASSES.items():
        stage = cls(config)
        prompts = [ChatPrompt(p.messages, p.prefill) for p in map(stage.format_input, rows[name])]
        out["labels (generated)" if name == "labels" else name] = (prompts, stage.max_new_tokens)
    scorer = LabelsStage(GenerationConfig(label_mode="score"))
    out["labels (scored)"] = ([scorer.format_input(row) for row in rows["labels"]], 0)
    return out


# ----------------------------------------------------------------------------------------------------- model
def train_tokenizer(texts: list[str]):
    """A byte-level BPE trained on ``texts`` (target 32,000 tokens), padded with filler ids to exactly 32,000,
    with Mistral's special tokens (``<unk>`` 0, ``<s>`` 1, ``</s>`` 2) and chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # fmt: skip
    bpe.train_from_iterator(texts, trainer)
    trained = bpe.get_vocab_size()
    data = json.loads(bpe.to_str())
    vocab = data["model"]["vocab"]
    for i in range(len(vocab), VOCAB):
        vocab[f"<unused{i}>"] = i
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(json.dumps(data)), bos_token="<s>", eos_token="</s>", unk_token="<unk>",
        pad_token="</s>", padding_side="left", chat_template=CHAT_TEMPLATE,
    )  # fmt: skip
    return tokenizer, trained


def build_model(shape: dict, device: str):
    """``MistralForCausalLM`` of ``shape`` with random weights, built on ``device`` in bf16."""
    from transformers import MistralConfig, MistralForCausalLM

    config = MistralConfig(vocab_size=VOCAB, max_position_embeddings=32768, rope_theta=1e6, sliding_window=None,
                           bos_token_id=1, eos_token_id=2, tie_word_embeddings=False, **shape)  # fmt: skip
    torch.manual_seed(SEED)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            model = MistralForCausalLM(config)
    finally:
        torch.set_default_dtype(previous)
    return model.eval()  # weights in bf16; rotary inv_freq stays float32, as from_pretrained(dtype=bf16) leaves it


def make_backend(model, tokenizer, device: str, max_batch_tokens: int):
    from emo_pillars.generation.backends import TransformersBackend

    backend = TransformersBackend("random-mistral-7b-shape", device=device, batch_size=None,
                                  max_batch_tokens=max_batch_tokens, prefix_cache=True, ignore_eos=True)  # fmt: skip
    backend.model, backend.tokenizer = model, tokenizer  # load() keeps an already set model
    return backend


# ----------------------------------------------------------------------------------------------------- timing
def sync(cuda: bool) -> None:
    if cuda:
        torch.cuda.synchronize()


def full_batch(backend, prompts: list[ChatPrompt], budget: int, args) -> tuple[list, list[int]]:
    """The prompts of one full batch under the token budget (at most ``--max-prompts``), and their token counts."""
    lengths = [backend.count_tokens(backend.render(p)) for p in prompts[: args.max_prompts]]
    n = max(1, min(len(lengths), args.max_batch_tokens // (max(lengths) + max(budget, len(SCORE_CONTINUATIONS)))))
    return prompts[:n], lengths[:n]


def time_row(backend, prompts: list[ChatPrompt], budget: int, cuda: bool) -> dict:
    """One timed call: ``generate`` at ``budget`` new tokens, or (``budget == 0``) ``score`` of the 28 emotions."""
    backend.clear_prefix_cache()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    sync(cuda)
    start = time.perf_counter()
    if budget:
        replies = backend.generate(prompts, max_new_tokens=budget, decoding=DecodingConfig())
    else:
        replies = backend.score(prompts, SCORE_CONTINUATIONS)
    sync(cuda)
    seconds = time.perf_counter() - start
    return {
        "prompts": len(prompts),
        "seconds": round(seconds, 3),
        "calls_per_s": round(len(prompts) / seconds, 3),
        "new_tokens": sum(r.completion_tokens for r in replies),
        "errors": sum(r.finish_reason == "error" for r in replies),
        "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 1) if cuda else None,
    }


def measure(backend, prompts: dict, args, cuda: bool) -> dict[str, dict]:
    """Per table row: one full batch timed (the two label modes on the same utterances)."""
    chosen = {name: full_batch(backend, p, budget, args) for name, (p, budget) in prompts.items()}
    n_labels = len(chosen["labels (generated)"][0])
    chosen["labels (scored)"] = tuple(part[:n_labels] for part in chosen["labels (scored)"])
    warm = chosen["labels (scored)"][0][:2]
    backend.generate(warm, max_new_tokens=4), backend.score(warm, SCORE_CONTINUATIONS)  # untimed warm-up
    rows = {}
    for name, (batch, lengths) in chosen.items():
        budget = prompts[name][1]
        rows[name] = {"mean_prompt_tokens": round(sum(lengths) / len(lengths)), "budget": budget,
                      **time_row(backend, batch, budget, cuda)}  # fmt: skip
        print(f"  {name}: {rows[name]['prompts']} prompts in {rows[name]['seconds']:.1f}s", file=sys.stderr)
    return rows


def failures(rows: dict[str, dict]) -> list[str]:
    """Rows whose figures do not count: failed calls, or replies shorter than their budget."""
    out = [f"{name}: {row['errors']} failed calls" for name, row in rows.items() if row["errors"]]
    for name, row in rows.items():
        if row["budget"] and row["new_tokens"] != row["prompts"] * row["budget"]:
            out.append(f"{name}: {row['new_tokens']} new tokens, not {row['prompts'] * row['budget']}")
    return out


# ----------------------------------------------------------------------------------------------------- budget
def budget_table(rows: dict[str, dict]) -> list[dict]:
    """The table's rows: per stage the paper's calls and the GPU-hours at the measured rate; then the two totals."""
    table = []
    for name, calls in CALLS.items():
        row = rows[name]
        table.append({"stage": name, "calls": calls, **row, "gpu_hours": calls / row["calls_per_s"] / 3600})
    stages = list(table)
    for mode in ("generated", "scored"):
        kept = [r for r in stages if not r["stage"].startswith("labels") or r["stage"] == f"labels ({mode})"]
        hours = sum(r["gpu_hours"] for r in kept)
        calls = sum(r["calls"] for r in kept)
        table.append({"stage": f"total, labels {mode}", "calls": calls, "gpu_hours": hours,
                      "vs_paper": hours / PAPER_HOURS})  # fmt: skip
    return table


def print_table(table: list[dict]) -> None:
    print("| stage | paper's calls | prompts timed | prompt tokens | new tokens | seconds | calls/s | GPU-hours | "
          f"vs paper's {PAPER_HOURS:.0f} h |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for r in table:
        if "vs_paper" in r:
            cells = ["", "", "", "", "", f"{r['gpu_hours']:.1f}", f"{r['vs_paper']:.3f}x"]
        else:
            new = f"{r['budget']}" if r["budget"] else "0 (28 scored)"
            cells = [f"{r['prompts']}", f"{r['mean_prompt_tokens']}", new, f"{r['seconds']:.2f}",
                     f"{r['calls_per_s']:.2f}", f"{r['gpu_hours']:.1f}", ""]  # fmt: skip
        print(f"| {r['stage']} | {r['calls']:,} | " + " | ".join(cells) + " |")


# ----------------------------------------------------------------------------------------------------- main
def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny Mistral shape: checks the script only")
    parser.add_argument("--max-prompts", type=int, default=None, help="most prompts a stage (GPU 1024, dry run 4)")
    parser.add_argument("--max-batch-tokens", type=int, default=None, help="the backend's token budget (GPU 262144)")
    parser.add_argument("--output", type=Path, default=None, help="where to write the figures as JSON")
    args = parser.parse_args()
    for option in ("max_prompts", "max_batch_tokens"):
        if getattr(args, option) is not None and getattr(args, option) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")
    args.max_prompts = args.max_prompts or (4 if args.dry_run else 1024)
    args.max_batch_tokens = args.max_batch_tokens or (32768 if args.dry_run else 262144)
    return args


def check_machine(args) -> str:
    """The device to use, or exit in one line (no GPU without --dry-run, or transformers older than 5)."""
    import transformers

    if int(transformers.__version__.split(".")[0]) < 5:
        raise SystemExit(f"gpu_check: the backend needs transformers >= 5, found {transformers.__version__}")
    if args.dry_run:
        torch.set_num_threads(1)  # a shared small CPU: oversubscribed threads cost far more than they give
        return "cpu"
    if not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA device here; run with --dry-run for the CPU check")
    return "cuda"


def setup(args, device: str):
    """The prompts per table row, and the backend around a random model and a tokenizer trained on the prompts."""
    prompts = stage_prompts(build_rows(max(args.max_prompts, TRAINING_PROMPTS)))
    sample = [prompt for p, _ in prompts.values() for prompt in p[:TRAINING_PROMPTS]]
    texts = [m for prompt in sample for _, m in prompt.messages] + [p.prefill for p in sample] + ["[INST] [/INST]"]
    tokenizer, trained = train_tokenizer(texts)
    model = build_model(TINY if args.dry_run else MISTRAL_7B, device)
    return prompts, make_backend(model, tokenizer, device, args.max_batch_tokens), trained


def main() -> None:
    args = parse_args()
    device = check_machine(args)
    cuda = device == "cuda"
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    start = time.perf_counter()
    prompts, backend, trained = setup(args, device)
    name = torch.cuda.get_device_name() if cuda else f"CPU, {torch.get_num_threads()} thread(s)"
    shape = "tiny Mistral shape (dry run)" if args.dry_run else "Mistral-7B-Instruct-v0.2 shape"
    print(f"{shape}, random weights, bf16, on {name}; tokenizer trained here ({trained} real tokens of {VOCAB}); "
          f"batches up to {args.max_batch_tokens} tokens; ready in {time.perf_counter() - start:.0f}s", file=sys.stderr)  # fmt: skip
    rows = measure(backend, prompts, args, cuda)
    table = budget_table(rows)
    print(f"{shape}, random weights, bf16, on {name}; replies at full budget; the paper's calls: {PLOTS:,} plots "
          f"x {CHARACTERS} characters x {UTTERANCES} utterances, contexts for {CONTEXTUAL:,}\n")  # fmt: skip
    print_table(table)
    generated, scored = rows["labels (generated)"], rows["labels (scored)"]
    print(f"\nlabel scoring is {scored['calls_per_s'] / generated['calls_per_s']:.1f}x the calls/s of label "
          f"generation; total {time.perf_counter() - start:.0f}s")  # fmt: skip
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    output = args.output or (None if args.dry_run else RESULTS / f"gpu-check-{slug}.json")
    if output is not None:
        write_results(output, args, name, trained, table)
    bad = failures(rows)
    if bad:
        raise SystemExit("gpu_check: these rows do not count: " + "; ".join(bad))


def write_results(output: Path, args, device: str, trained: int, table: list[dict]) -> None:
    import transformers

    results = {
        "machine": {
            "device": device,
            "platform": platform.platform(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
        "model": "tiny Mistral shape (dry run)" if args.dry_run else "Mistral-7B-Instruct-v0.2 shape, random, bf16",
        "tokenizer": f"byte-level BPE trained on the prompts: {trained} tokens, padded to {VOCAB}",
        "max_batch_tokens": args.max_batch_tokens,
        "max_prompts": args.max_prompts,
        "paper": {"plots": PLOTS, "characters": CHARACTERS, "utterances": UTTERANCES, "hours": PAPER_HOURS},
        "rows": table,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"results: {output}")


if __name__ == "__main__":
    main()
