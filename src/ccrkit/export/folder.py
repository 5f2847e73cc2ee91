"""Write a trained run as a Hugging Face (and optionally sentence-transformers) model folder.

What can leave ccrkit: a dual-encoder method (`baseline`, `one_to_k`: text = encoder → masked
mean → projection head → L2) with a Hugging Face text encoder (`text_encoder.name: hf`). The
projection head is affine at inference (BatchNorm folded into the Linear, dropout off), so one
`Dense` layer reproduces it exactly. The built-in encoder (a ccrkit Transformer with its own BPE
tokenizer) and the NRCCR-family text towers have no class in transformers; those runs are
refused with a message that says so, and remain usable through `ccrkit serve` / `index`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file
from torch import nn

from ccrkit import __version__
from ccrkit.export.card import model_card
from ccrkit.methods.baseline import DualEncoder
from ccrkit.methods.checkpoint import ASSETS_DIR, load_method
from ccrkit.models.blocks import L2Norm
from ccrkit.models.text_hf import ASSETS_NAME, HFTextEncoder
from ccrkit.models.visual import FeatureEncoder
from ccrkit.quiet import quiet_transformers
from ccrkit.runs import RUN_RECORD, replaced_folder, write_json_atomic

FORMATS = ("hf", "sentence-transformers")
EXPORT_FILE = "ccrkit_export.json"
WEIGHTS_FILE = "projection.safetensors"
ACTIVATIONS = {"identity": "torch.nn.modules.linear.Identity", "relu": "torch.nn.modules.activation.ReLU"}  # fmt: skip


class ExportError(ValueError):
    """The run cannot be written in the asked format; the message says why and what works."""


@dataclass(frozen=True)
class Dense:
    """One affine layer of a head at inference: y = act(x W^T + b)."""

    weight: torch.Tensor
    bias: torch.Tensor
    activation: str = "identity"


@dataclass
class ExportResult:
    out: Path
    format: str
    dim: int
    files: list[str]


def export_run(
    run_dir: str | Path,
    out: str | Path,
    format: str = "hf",
    which: str = "best",
    force: bool = False,
) -> ExportResult:
    """Write run `run_dir` (its `which` checkpoint) into folder `out`; see the module docstring."""
    if format not in FORMATS:
        raise ExportError(f"unknown format '{format}'; known: {', '.join(FORMATS)}")
    run_dir, out = Path(run_dir), Path(out)
    _check_destination(out, force)
    method, record = load_method(run_dir, which, "cpu")
    config = record.get("config") or {}
    text = _text_encoder(method, config, run_dir)
    text_layers, text_norm = dense_layers(list(method.text_head))  # type: ignore[arg-type]
    visual = _visual_layers(method)
    tensors = _tensors("text", text_layers)
    if visual is not None:
        tensors.update(_tensors("visual", visual[0]))
    info = _export_info(run_dir, which, record, config, text_layers, text_norm, visual)
    metrics = _run_metrics(run_dir)
    with replaced_folder(out) as staging:
        with quiet_transformers():
            text.model.save_pretrained(staging)
            _tokenizer(text, run_dir).save_pretrained(staging)
        save_file(tensors, str(staging / WEIGHTS_FILE))
        write_json_atomic(staging / EXPORT_FILE, info)
        if format == "sentence-transformers":
            write_sentence_transformers(staging, text, text_layers, text_norm)
        card = model_card(info, config, metrics, format)
        (staging / "README.md").write_text(card, encoding="utf-8")
        files = sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file())
    return ExportResult(out, format, info["text"]["dim"], files)


def dense_layers(modules: Sequence[nn.Module]) -> tuple[list[Dense], bool]:
    """A head's modules (Linear, BatchNorm1d, ReLU, Dropout, L2Norm last) as affine layers at
    inference, each BatchNorm folded into the Linear before it; and whether it ends in L2."""
    layers: list[Dense] = []
    normalise = False
    for module in modules:
        if normalise:
            raise ExportError(f"a {type(module).__name__} after the L2 normalisation")
        if isinstance(module, nn.Linear):
            bias = module.bias if module.bias is not None else torch.zeros(module.out_features)
            layers.append(Dense(module.weight.detach().clone(), bias.detach().clone()))
        elif isinstance(module, nn.BatchNorm1d) and layers and layers[-1].activation == "identity":
            scale = module.weight / torch.sqrt(module.running_var + module.eps)
            last = layers[-1]
            shifted = (last.bias - module.running_mean) * scale + module.bias
            layers[-1] = Dense((last.weight * scale[:, None]).detach(), shifted.detach())
        elif isinstance(module, nn.ReLU) and layers and layers[-1].activation == "identity":
            layers[-1] = Dense(layers[-1].weight, layers[-1].bias, "relu")
        elif isinstance(module, L2Norm):
            normalise = True
        elif not isinstance(module, (nn.Dropout, nn.Identity)):
            raise ExportError(f"cannot export a {type(module).__name__} layer of the head")
    return layers, normalise


def write_sentence_transformers(
    folder: Path, text: HFTextEncoder, layers: list[Dense], normalise: bool
) -> None:
    """The module files of the classic sentence-transformers layout (read by its 2.x-6.x):
    Transformer (the folder itself) → mean Pooling → one Dense per layer → Normalize."""
    modules: list[dict[str, Any]] = [_module(0, "", "Transformer")]
    (folder / "sentence_bert_config.json").write_text(
        json.dumps({"max_seq_length": text.config.max_length, "do_lower_case": False}, indent=2)
    )
    pooling = {"word_embedding_dimension": text.dim, "pooling_mode_mean_tokens": True,
               "pooling_mode_cls_token": False, "pooling_mode_max_tokens": False,
               "pooling_mode_mean_sqrt_len_tokens": False}  # fmt: skip
    _write_module(folder, modules, "Pooling", pooling)
    for layer in layers:
        out_dim, in_dim = layer.weight.shape
        dense = {"in_features": in_dim, "out_features": out_dim, "bias": True,
                 "activation_function": ACTIVATIONS[layer.activation]}  # fmt: skip
        path = _write_module(folder, modules, "Dense", dense)
        save_file(
            {"linear.weight": layer.weight.contiguous(), "linear.bias": layer.bias.contiguous()},
            str(folder / path / "model.safetensors"),
        )
    if normalise:
        _write_module(folder, modules, "Normalize", None)
    (folder / "modules.json").write_text(json.dumps(modules, indent=2))
    versions = {"sentence_transformers": "2.2.2", "transformers": "4.45.0", "pytorch": "2.0.0"}
    settings = {"__version__": versions, "prompts": {}, "default_prompt_name": None,
                "similarity_fn_name": "cosine"}  # fmt: skip
    (folder / "config_sentence_transformers.json").write_text(json.dumps(settings, indent=2))


def _module(index: int, path: str, kind: str) -> dict[str, Any]:
    return {"idx": index, "name": str(index), "path": path,
            "type": f"sentence_transformers.models.{kind}"}  # fmt: skip


def _write_module(
    folder: Path, modules: list[dict[str, Any]], kind: str, config: dict[str, Any] | None
) -> str:
    index = len(modules)
    path = f"{index}_{kind}"
    (folder / path).mkdir()
    if config is not None:
        (folder / path / "config.json").write_text(json.dumps(config, indent=2))
    modules.append(_module(index, path, kind))
    return path


def _text_encoder(method: Any, config: dict[str, Any], run_dir: Path) -> HFTextEncoder:
    name = (config.get("method") or {}).get("name", "?")
    if not isinstance(method, DualEncoder):
        raise ExportError(
            f"{run_dir}: method '{name}' encodes text through its own tower (an attention block "
            "over the encoder's tokens), which no Hugging Face class holds; export takes "
            "dual-encoder runs (baseline, one_to_k). Serve this run with ccrkit index/serve"
        )
    if not isinstance(method.text, HFTextEncoder):
        encoder = (config.get("text_encoder") or {}).get("name", "?")
        raise ExportError(
            f"{run_dir}: text encoder '{encoder}' is ccrkit's own Transformer with its own BPE "
            "tokenizer; no Hugging Face class loads it. Export needs a run trained with "
            "text_encoder.name=hf (e.g. text_encoder.path=bert-base-multilingual-cased); serve "
            "this run with ccrkit index/serve"
        )
    return method.text


def _tokenizer(text: HFTextEncoder, run_dir: Path) -> Any:
    """The run's tokenizer; when the run lower-cased and stripped accents in Python, a BERT
    tokenizer that does the same in its own normaliser (so the folder needs no ccrkit code)."""
    if not text.config.lowercase_strip_accents:
        return text.tokenizer
    if not hasattr(text.tokenizer, "do_lower_case"):
        raise ExportError(
            f"{run_dir}: text_encoder.lowercase_strip_accents is on, and the tokenizer "
            f"({type(text.tokenizer).__name__}) has no lower-casing option to carry it"
        )
    assets = run_dir / ASSETS_DIR / ASSETS_NAME
    return type(text.tokenizer).from_pretrained(assets, do_lower_case=True, strip_accents=True)


def _visual_layers(method: Any) -> tuple[list[Dense], bool] | None:
    """The visual side when it is plain layers over precomputed features (`feature` encoder)."""
    if not isinstance(method.visual, FeatureEncoder):
        return None
    return dense_layers([*method.visual.net, *method.visual_head])


def _tensors(prefix: str, layers: list[Dense]) -> dict[str, torch.Tensor]:
    tensors = {}
    for i, layer in enumerate(layers):
        tensors[f"{prefix}.{i}.weight"] = layer.weight.contiguous()
        tensors[f"{prefix}.{i}.bias"] = layer.bias.contiguous()
    return tensors


def _describe(layers: list[Dense], normalise: bool, prefix: str) -> dict[str, Any]:
    return {
        "layers": [{"weight": f"{prefix}.{i}.weight", "bias": f"{prefix}.{i}.bias",
                    "activation": layer.activation} for i, layer in enumerate(layers)],
        "normalize": normalise, "dim": int(layers[-1].weight.shape[0]),
    }  # fmt: skip


def _export_info(
    run_dir: Path, which: str, record: dict[str, Any], config: dict[str, Any],
    text_layers: list[Dense], text_norm: bool, visual: tuple[list[Dense], bool] | None,
) -> dict[str, Any]:  # fmt: skip
    data = config.get("data") or {}
    targets = list(data.get("target_langs") or [data.get("lang", "de")])
    info: dict[str, Any] = {
        "format": "ccrkit-export/1", "ccrkit_version": __version__,
        "run": run_dir.resolve().name, "checkpoint": which, "epoch": record.get("epoch"),
        "sha256": record.get("sha256"), "method": (config.get("method") or {}).get("name"),
        "languages": [*dict.fromkeys(["en", *targets])],
        "text": {"pooling": "mean", "max_length": config["text_encoder"].get("max_length", 64),
                 "file": WEIGHTS_FILE, **_describe(text_layers, text_norm, "text")},
        "visual": None,
    }  # fmt: skip
    if visual is not None:
        info["visual"] = {
            "input": f"feature '{data.get('feature') or 'default'}' of data spec "
            f"'{data.get('name')}' (precomputed, {int(visual[0][0].weight.shape[1])}-d)",
            "file": WEIGHTS_FILE,
            **_describe(*visual, "visual"),
        }
    return info


def _run_metrics(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RUN_RECORD
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("metrics") or {}
    except (OSError, ValueError):
        return {}


def _check_destination(out: Path, force: bool) -> None:
    if not out.exists():
        return
    if not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder")
    if not force:
        raise FileExistsError(f"{out} already exists; pass --force to replace it")
    if not (out / EXPORT_FILE).is_file() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not a ccrkit export (no {EXPORT_FILE}); refusing to replace it")  # fmt: skip
