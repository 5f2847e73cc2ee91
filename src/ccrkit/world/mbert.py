"""Pretraining `world-mbert`, the world's mBERT: a BERT masked language model on monolingual text
of all six languages, saved in Hugging Face format so that `AutoModel` / `AutoTokenizer` load
it and ccrkit's `hf` text encoder uses it exactly as it uses mBERT.

The corpus is apart from the benchmark and from itself across languages: every language's
sentences are captions of that language's own scenes (seed streams no benchmark split and no
other language uses), written by its grammar with the full paraphrase variety of human captions.
No sentence has a translation in the corpus, so whatever aligns the languages is what real
languages share: digits, punctuation, a few loanwords, and the structure of the world they talk
about. The tokenizer is a WordPiece trained with the `tokenizers` library, with BERT's
normalisation (CJK characters split one by one, as mBERT does; cased, as mBERT-cased); the model
is transformers' `BertForMaskedLM`, trained with its `DataCollatorForLanguageModeling` masking.

Measured on held-out text (`evaluate_text_model`): masked-token accuracy per language, and
zero-shot cross-lingual sentence retrieval en <-> xx by mean-pooled last-layer states on
parallel captions (one frame written in both languages, each with its own paraphrase).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers.trainers import WordPieceTrainer
from tqdm import tqdm

from ccrkit.world.captions import caption_frame
from ccrkit.world.concepts import Frame
from ccrkit.world.config import TextModelWorld, WorldConfig, pretrained_hash
from ccrkit.world.lang import GRAMMARS, SOURCE, render_text
from ccrkit.world.pretrained import (
    MODELS_DIR,
    build_once,
    cache_folder,
    install,
    is_complete,
    model_dir,
    read_marker,
)
from ccrkit.world.scene import Scene, sample_family

LANGUAGES = tuple(
    GRAMMARS
)  # en, de, fr, cs, zh, ja: the model knows all six, whatever a world tests
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
VIDEO_SHARE = 0.3  # share of sentences that describe a video (events), the rest an image


def text_scenes(cfg: WorldConfig, lang: str, n: int, purpose: str) -> list[Scene]:
    """`n` scenes (images and videos) of language `lang`'s own seed stream for `purpose`."""
    rng = random.Random(f"{cfg.seed}|world-mbert|{lang}|{purpose}|scenes")
    return [
        sample_family(
            rng, rng.random() < VIDEO_SHARE, 1, cfg.image.max_objects, cfg.image.object_weights
        )[0]
        for _ in range(n)
    ]


def monolingual_sentences(cfg: WorldConfig, lang: str, n: int, purpose: str) -> list[str]:
    """`n` captions in `lang`, one per scene of `text_scenes`, each from its own frame."""
    rng = random.Random(f"{cfg.seed}|world-mbert|{lang}|{purpose}|captions")
    return [
        render_text(caption_frame(scene, rng, cfg.captions), lang, rng)
        for scene in text_scenes(cfg, lang, n, purpose)
    ]


def parallel_captions(cfg: WorldConfig, n: int) -> dict[str, list[str]]:
    """`n` held-out frames, all different (so that a perfectly aligned model could retrieve every
    one), each written in every language with that language's own paraphrase."""
    rng = random.Random(f"{cfg.seed}|world-mbert|parallel|captions")
    frames: dict[Frame, None] = {}
    for scene in text_scenes(cfg, "all", 4 * n, "parallel"):
        frames.setdefault(caption_frame(scene, rng, cfg.captions))
        if len(frames) == n:
            break
    return {
        lang: [
            render_text(frame, lang, random.Random(f"{cfg.seed}|world-mbert|parallel|{i}|{lang}"))
            for i, frame in enumerate(frames)
        ]
        for lang in LANGUAGES
    }


# transformers is imported inside the functions that train or evaluate world-mbert: with its BERT
# classes it takes 2-5 s to import, which a world made from the pretrained cache never pays.
def train_tokenizer(sentences: Sequence[str], vocab_size: int, max_length: int) -> Any:
    """A WordPiece tokenizer (tokenizers library) with BERT's normalisation and [CLS] ... [SEP],
    wrapped as transformers' BertTokenizerFast."""
    from transformers import BertTokenizerFast  # lazy: see the note above

    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False
    )
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = WordPieceTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL_TOKENS))
    tokenizer.train_from_iterator(sentences, trainer)
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )  # fmt: skip
    tokenizer.decoder = decoders.WordPiece()
    return BertTokenizerFast(
        tokenizer_object=tokenizer, unk_token="[UNK]", sep_token="[SEP]", pad_token="[PAD]",
        cls_token="[CLS]", mask_token="[MASK]", do_lower_case=False, tokenize_chinese_chars=True,
        strip_accents=False, model_max_length=max_length,
    )  # fmt: skip


def build_model(tokenizer: Any, cfg: TextModelWorld) -> Any:
    from transformers import BertConfig, BertForMaskedLM

    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=cfg.hidden, num_hidden_layers=cfg.layers,
        num_attention_heads=cfg.heads, intermediate_size=cfg.intermediate,
        max_position_embeddings=cfg.max_length, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    return BertForMaskedLM(config)


def train_mlm(
    model: Any,
    tokenizer: Any,
    sentences: Sequence[str],
    cfg: TextModelWorld,
    seed: int,
    progress: Callable[[], Any] | None = None,
) -> dict[str, float]:
    """`cfg.steps` AdamW steps on batches of `cfg.batch_size` shuffled sentences, masked by
    DataCollatorForLanguageModeling; linear warm-up (6 %) and linear decay. Returns throughput."""
    from transformers import DataCollatorForLanguageModeling, get_linear_schedule_with_warmup

    torch.manual_seed(seed)
    ids = tokenizer(list(sentences), truncation=True, max_length=cfg.max_length)["input_ids"]
    order = np.random.default_rng(seed).permutation(len(ids))
    collate = DataCollatorForLanguageModeling(tokenizer, mlm_probability=cfg.mask_probability)
    optimiser = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    schedule = get_linear_schedule_with_warmup(optimiser, int(0.06 * cfg.steps), cfg.steps)
    model.train()
    tokens, started, position = 0, time.perf_counter(), 0
    for _step in range(cfg.steps):
        if position + cfg.batch_size > len(order):
            order, position = np.random.default_rng(seed + _step).permutation(len(ids)), 0
        rows = order[position : position + cfg.batch_size]
        position += cfg.batch_size
        batch = collate([{"input_ids": ids[i]} for i in rows])
        loss = model(**batch).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        tokens += int(batch["attention_mask"].sum())
        if progress is not None:
            progress()
    seconds = time.perf_counter() - started
    model.eval()
    return {
        "tokens_per_s": round(tokens / max(seconds, 1e-9)),
        "training_s": round(seconds, 1),
        "epochs": round(cfg.steps * cfg.batch_size / len(ids), 2),
        "final_loss": round(float(loss.detach()), 3),
    }


@torch.no_grad()
def masked_accuracy(
    model: Any, tokenizer: Any, sentences: Sequence[str], cfg: TextModelWorld, seed: int
) -> float:
    """% of masked positions (the collator's 15 %: [MASK], random or kept) predicted exactly."""
    from transformers import DataCollatorForLanguageModeling

    torch.manual_seed(seed)
    collate = DataCollatorForLanguageModeling(tokenizer, mlm_probability=cfg.mask_probability)
    ids = tokenizer(list(sentences), truncation=True, max_length=cfg.max_length)["input_ids"]
    hits = total = 0
    for start in range(0, len(ids), 256):
        batch = collate([{"input_ids": row} for row in ids[start : start + 256]])
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        chosen = batch["labels"] != -100
        hits += int((logits.argmax(-1)[chosen] == batch["labels"][chosen]).sum())
        total += int(chosen.sum())
    return 100.0 * hits / max(total, 1)


@torch.no_grad()
def sentence_embeddings(
    model: Any, tokenizer: Any, sentences: Sequence[str], max_length: int
) -> torch.Tensor:
    """Attention-masked mean of the last hidden states (what ccrkit's `hf` encoder pools), L2-normalised."""
    parts = []
    for start in range(0, len(sentences), 256):
        batch = tokenizer(
            list(sentences[start : start + 256]), padding=True, truncation=True,
            max_length=max_length, return_tensors="pt",
        )  # fmt: skip
        states = model.bert(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)
        parts.append(torch.nn.functional.normalize((states * mask).sum(1) / mask.sum(1), dim=-1))
    return torch.cat(parts)


def retrieval_r1(source: torch.Tensor, target: torch.Tensor) -> float:
    """Mean of R@1 source -> target and target -> source (row i of both is pair i), in %."""
    sim = source @ target.T
    truth = torch.arange(len(sim))
    forward = (sim.argmax(1) == truth).float().mean()
    backward = (sim.argmax(0) == truth).float().mean()
    return float(50.0 * (forward + backward))


def evaluate_text_model(model: Any, tokenizer: Any, cfg: WorldConfig) -> dict[str, Any]:
    settings = cfg.text_model
    n = settings.eval_sentences
    accuracy = {
        lang: round(masked_accuracy(model, tokenizer, monolingual_sentences(cfg, lang, n, "eval"), settings, cfg.seed), 2)
        for lang in LANGUAGES
    }  # fmt: skip
    parallel = parallel_captions(cfg, n)
    english = sentence_embeddings(model, tokenizer, parallel[SOURCE], settings.max_length)
    retrieval = {
        lang: round(retrieval_r1(english, sentence_embeddings(model, tokenizer, parallel[lang], settings.max_length)), 2)
        for lang in LANGUAGES if lang != SOURCE
    }  # fmt: skip
    return {"mlm_accuracy": accuracy, "crosslingual_retrieval": retrieval}


def pretrain_world_mbert(
    cfg: WorldConfig, directory: Path, progress: Callable[[], Any] | None = None
) -> dict[str, Any]:
    """Corpus, tokenizer, masked-LM training and evaluation; model and tokenizer saved in Hugging
    Face format into `directory`. Returns what world.json records about it."""
    settings = cfg.text_model
    threads = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    try:
        timings: dict[str, float] = {}
        clock = time.perf_counter()
        corpus = {
            lang: monolingual_sentences(cfg, lang, settings.sentences, "train")
            for lang in LANGUAGES
        }
        sentences = [s for lang in LANGUAGES for s in corpus[lang]]
        timings["corpus"] = round(time.perf_counter() - clock, 2)
        clock = time.perf_counter()
        tokenizer = train_tokenizer(sentences, settings.vocab_size, settings.max_length)
        timings["tokenizer"] = round(time.perf_counter() - clock, 2)
        torch.manual_seed(cfg.seed)  # the initial weights, whatever ran before in this process
        model = build_model(tokenizer, settings)
        training = train_mlm(model, tokenizer, sentences, settings, cfg.seed, progress)
        timings["training"] = training["training_s"]
        clock = time.perf_counter()
        measured = evaluate_text_model(model, tokenizer, cfg)
        timings["evaluation"] = round(time.perf_counter() - clock, 2)
        model.save_pretrained(directory)
        tokenizer.save_pretrained(directory)
    finally:
        torch.set_num_threads(threads)
    return {
        **measured,
        "crosslingual_retrieval_metric": (
            "mean of R@1 en->xx and xx->en, cosine of mean-pooled last-layer states, "
            f"{settings.eval_sentences} held-out parallel captions (chance {100 / settings.eval_sentences:.1f} %)"
        ),
        "corpus": {"sentences_per_language": settings.sentences, "languages": list(LANGUAGES),
                   "parallel": False},
        "vocab_size": len(tokenizer),
        "parameters": sum(p.numel() for p in model.parameters()),
        "architecture": {"hidden": settings.hidden, "layers": settings.layers,
                         "heads": settings.heads, "intermediate": settings.intermediate},
        "training": training,
        "timings_s": timings,
    }  # fmt: skip


WORLD_MBERT = "world-mbert"


def world_mbert_cached(cfg: WorldConfig, cache: Path) -> bool:
    """Whether the cache holds this config's world-mbert (then nothing need be trained)."""
    digest = pretrained_hash(cfg, WORLD_MBERT)
    return is_complete(cache_folder(cache, WORLD_MBERT, digest), digest)


def build_world_mbert(cfg: WorldConfig, cache: Path, show_progress: bool = False) -> bool:
    """world-mbert pretrained into the cache unless it is there; True when it was trained here.
    World generation runs this in a worker process beside world-clip's pretraining (one thread
    each: two small models side by side use both cores without any synchronisation)."""

    def build(staging: Path) -> dict[str, Any]:
        with tqdm(total=cfg.text_model.steps, desc="world-mbert", unit="step",
                  disable=not show_progress) as bar:  # fmt: skip
            return pretrain_world_mbert(cfg, staging, lambda: bar.update(1))

    return build_once(cache, WORLD_MBERT, pretrained_hash(cfg, WORLD_MBERT), build)[2]


def text_model_stage(
    cfg: WorldConfig, root: Path, cache: Path, show_progress: bool, built: bool | None = None
) -> dict[str, Any]:
    """world-mbert pretrained (or taken from the cache) and installed as DATA_ROOT/models/world-mbert;
    returns world.json's `text_model`. `built`: whether a worker has just trained it into the
    cache (`build_world_mbert`), so the record says it was not taken from an earlier run."""
    trained = build_world_mbert(cfg, cache, show_progress)
    digest = pretrained_hash(cfg, WORLD_MBERT)
    folder = cache_folder(cache, WORLD_MBERT, digest)
    record = read_marker(folder) or {}
    install(folder, model_dir(root, WORLD_MBERT))
    measured = {k: v for k, v in record.items() if k not in ("hash", "name")}
    return {"path": f"{MODELS_DIR}/{WORLD_MBERT}", **measured, "hash": digest,
            "cached": not (trained or built)}  # fmt: skip
