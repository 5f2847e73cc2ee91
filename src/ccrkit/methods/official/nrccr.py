"""`ccrkit import nrccr`: an official NRCCR checkpoint (HuiGuanLab/nrccr) as a ccrkit run.

The official trainers save `{'epoch', 'model', 'best_rsum', 'opt', 'Eiters'}` (methods.md §1.9):
`model` holds five state dicts in `BaseModel.state_dict()` order — visual encoding, text encoding
(mBERT + the NRCCR text layers), visual mapping, text mapping, adversarial agent — the first two
with DataParallel's `module.` prefix; `opt` is the `argparse.Namespace` of the run. The import
reads it with only `argparse.Namespace` allowed in the pickle, rebuilds the matching ccrkit NRCCR
(image: CLIP ViT or precomputed ResNet-152 features; video: the temporal block over frame
features) from `opt` and the tensor shapes, places every tensor by the rules below (`RULES` is
also the table in docs/import.md), and sets the compatibility switches, so the imported model's
forward is the official one: mean pooling over padded positions with the outer-product attention
mask (`nrccr_compat_padding_pool`, `visual_encoder.compat_padding_pool`), the tester's evaluation
batches of 64 (pooling over padding makes embeddings depend on their batch), lower-cased,
accent-stripped mBERT input and the training order of the official collate.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ccrkit.config import read_yaml, resolve_config_path
from ccrkit.methods.checkpoint import load_module_state
from ccrkit.methods.official import clip
from ccrkit.methods.official.mapping import Mapped, Rule, qualify, remap, strip_prefix
from ccrkit.methods.official.runfolder import assets_dir, staged_run, write_imported_run
from ccrkit.methods.official.textmodel import (
    bert_shape,
    check_config,
    load_text_model,
    save_text_assets,
)
from ccrkit.methods.official.torchfile import OfficialCheckpointError, load_restricted
from ccrkit.models.base import BuildContext

WHAT = "an NRCCR checkpoint"
COMPONENTS = ("vid_encoding", "text_encoding", "vid_mapping", "text_mapping", "AdvAgent")
KEYS = ("epoch", "model", "best_rsum", "opt", "Eiters")
BERT = "text_encoding.text_bert.text_bert."
CLIP_HF = "vid_encoding.encoder.hf."  # the CLIP vision tower after conversion (see clip.py)
TESTER_BATCH = 64  # test_base.py's --batch_size: the official test embeddings' batches
VIDEO_POSITIONS, VIDEO_MAX_FRAMES = 80, 64  # video_transformer_encoding.max_ctx_l, VIDEO_MAX_LEN
LAYER_NAME = re.compile(r"layer\.(\d+)$")


def tower_rules(official: str, ccrkit: str) -> list[Rule]:
    """The NRCCR text/video layers (LinearLayer, TrainablePositionalEncoding, BertAttention)."""
    parts = [
        ("input_proj_layer.LayerNorm.", "input.0.", "LayerNorm before the input projection"),
        ("input_proj_layer.net.1.", "input.2.", "input projection Linear (net.0 is Dropout)"),
        ("pos_embed_layer.position_embeddings.", "positions.", "trainable positions"),
        ("pos_embed_layer.LayerNorm.", "position_norm.0.", "LayerNorm after adding positions"),
        ("encoder_layer.self.query.", "attention.query.", "query projection (H -> 512)"),
        ("encoder_layer.self.key.", "attention.key.", "key projection (H -> 512)"),
        ("encoder_layer.self.value.", "attention.value.", "value projection (H -> H)"),
        ("encoder_layer.output.dense.", "attention.out.", "attention output Linear"),
        ("encoder_layer.output.LayerNorm.", "attention.norm.", "attention output LayerNorm"),
    ]
    return [Rule(official + old, ccrkit + new, note) for old, new, note in parts]


def mapping_rules(official: str, ccrkit: str) -> list[Rule]:
    return [
        Rule(f"{official}.mapping.fc1.", f"{ccrkit}.0.", "mapping Linear (-> 1536)"),
        Rule(
            f"{official}.mapping.bn_1.", f"{ccrkit}.1.", "mapping BatchNorm1d (with running stats)"
        ),
    ]


SHARED_RULES = [
    *tower_rules("text_encoding.", "tower."),
    Rule(BERT, "text.model.", "the whole mBERT (embeddings, 12 layers, pooler)"),
    *mapping_rules("vid_mapping", "visual_head"),
    *mapping_rules("text_mapping", "text_head"),
    Rule("AdvAgent.discriminator.model.", "discriminator.classify.", "discriminator head (Linear / MLP)"),
    Rule("AdvAgent.discriminator.convolve.", "discriminator.convolve.", "strong discriminator: Conv1d + 3 ResBlocks"),
]  # fmt: skip
VARIANT_RULES = {
    "video": tower_rules("vid_encoding.", "visual."),
    "image-features": [
        Rule("vid_encoding.proj.", "visual.net.0.", "Linear(D -> D) before ReLU (image_encoding)"),
    ],
    "image-clip": [
        Rule("vid_encoding.proj.", "visual_proj.0.", "Linear(512 -> 1024) after CLIP, no activation"),
        Rule(CLIP_HF, "visual.backbone.", "CLIP's vision tower, renamed as in clip.py"),
        Rule("vid_encoding.encoder.", None, "CLIP's text tower and logit scale: never called (encode_image only)"),
    ],
}  # fmt: skip
BUFFER_RULES = [  # buffers older transformers saved and current ones rebuild
    Rule(BERT + "embeddings.position_ids", None, "buffer arange(L), rebuilt by transformers"),
    Rule(BERT + "embeddings.token_type_ids", None, "buffer of zeros, rebuilt by transformers"),
]
BASE_CONFIGS = {"multi30k": "nrccr-multi30k", "mscoco": "nrccr-mscoco", "vatex": "nrccr-vatex",
                "msrvttcn": "nrccr-msrvttcn", "msrvtt10kcn": "nrccr-msrvttcn"}  # fmt: skip


def rules(variant: str) -> list[Rule]:
    """Every rule of one variant (`video`, `image-features`, `image-clip`)."""
    return [*SHARED_RULES, *VARIANT_RULES[variant], *BUFFER_RULES]


@dataclass
class OfficialNrccr:
    """What an official NRCCR checkpoint holds, checked for shape but not yet mapped."""

    path: Path
    opt: dict[str, Any]
    state: dict[str, torch.Tensor]  # "<component>.<key>", `module.` stripped
    epoch: Any
    best_rsum: Any
    eiters: Any

    @property
    def variant(self) -> str:
        if self.opt.get("model_type", "video") != "img":
            return "video"
        return "image-clip" if self.opt.get("img_encoder") == "clip" else "image-features"

    def shape(self, key: str) -> tuple[int, ...]:
        if key not in self.state:
            raise OfficialCheckpointError(
                f"{self.path}: not {WHAT} of the {self.variant} kind: no tensor {key}"
            )
        return tuple(self.state[key].shape)


def read_nrccr(path: str | Path) -> OfficialNrccr:
    """Read and check the structure of an official NRCCR checkpoint (nothing unpickled but
    containers, tensors and `argparse.Namespace`)."""
    path = Path(path)
    saved = load_restricted(path, [argparse.Namespace], WHAT)
    if not isinstance(saved, dict) or "model" not in saved or "opt" not in saved:
        raise OfficialCheckpointError(
            f"{path}: not {WHAT}: found {_describe(saved)}; expected a dict with keys {', '.join(KEYS)}"
        )
    model, opt = saved["model"], saved["opt"]
    if not isinstance(opt, argparse.Namespace):
        raise OfficialCheckpointError(
            f"{path}: not {WHAT}: 'opt' is {_describe(opt)}, expected the trainer's argparse.Namespace"
        )
    if (
        not isinstance(model, list | tuple)
        or len(model) != len(COMPONENTS)
        or not all(isinstance(part, dict) for part in model)
    ):
        raise OfficialCheckpointError(
            f"{path}: not {WHAT}: 'model' is {_describe(model)}; expected a list of {len(COMPONENTS)} state dicts "
            f"({', '.join(COMPONENTS)})"
        )  # fmt: skip
    state: dict[str, torch.Tensor] = {}
    for name, part in zip(COMPONENTS, model, strict=True):
        tensors = {k: v for k, v in part.items() if isinstance(v, torch.Tensor)}
        if len(tensors) != len(part):
            raise OfficialCheckpointError(
                f"{path}: not {WHAT}: state dict '{name}' holds non-tensor values"
            )
        state |= qualify(name, strip_prefix(tensors, "module."))
    found = OfficialNrccr(
        path, vars(opt), state, saved.get("epoch"), saved.get("best_rsum"), saved.get("Eiters")
    )
    _check_supported(found)
    return found


def _check_supported(found: OfficialNrccr) -> None:
    opt, where = found.opt, f"{found.path}"
    for key, expected in (
        ("text_pooling", "mean"),
        ("video_pooling", "mean"),
        ("measure", "cosine"),
    ):
        if opt.get(key, expected) != expected:
            raise OfficialCheckpointError(
                f"{where}: opt.{key} = {opt[key]!r}; ccrkit's NRCCR reproduces {key} {expected!r} only"
            )
    if found.variant == "video" and int(opt.get("video_layer", 1)) != 1:
        raise OfficialCheckpointError(
            f"{where}: opt.video_layer = {opt['video_layer']}: the official code runs the extra video layers "
            "untrained and does not save them (methods.md §1.7 item 6), so no import can reproduce it"
        )  # fmt: skip
    if not any(key.startswith(BERT) for key in found.state):
        raise OfficialCheckpointError(
            f"{where}: not {WHAT}: the text encoding holds no mBERT ({BERT}*)"
        )


def _describe(obj: Any) -> str:
    if isinstance(obj, dict):
        keys = ", ".join(map(str, list(obj)[:6])) + (" ..." if len(obj) > 6 else "")
        return f"a dict with keys {keys or '(none)'}"
    if isinstance(obj, list | tuple):
        return f"a {type(obj).__name__} of {len(obj)}"
    return f"a {type(obj).__name__}"


# ------------------------------------------------------------------------------- the run config
def data_name(opt: dict[str, Any], source: str) -> str:
    """The ccrkit data spec of the official run (`collection`, `data_type`, `task`)."""
    collection = str(opt.get("collection", ""))
    lang = str(opt.get("data_type") or "google_enc2zh").rpartition("2")[2]
    if collection == "multi30k":
        task = 2 if int(opt.get("task", 2)) == 2 and lang == "de" else 1  # fr/cs val/test: task 1's
        return f"multi30k-task{task}-{lang}"
    if collection == "mscoco":
        return f"mscoco-{lang}"
    if collection == "vatex":
        return "vatex-zh"
    if collection in ("msrvttcn", "msrvtt10kcn"):
        return "msrvttcn-zh"
    raise ValueError(
        f"{source}: opt.collection = {collection!r} has no ccrkit data spec; pass --data NAME"
    )


def run_config(
    found: OfficialNrccr, text_model: Path, data: str | None, root: str | None
) -> dict[str, Any]:
    """A ccrkit run config equal to the official model: the shipped training config of the
    benchmark (`configs/nrccr-*.yaml`) with the architecture, weights and switches of `opt`."""
    opt, variant = found.opt, found.variant
    collection = str(opt.get("collection", ""))
    base = BASE_CONFIGS.get(collection, "nrccr-vatex" if variant == "video" else "nrccr-multi30k")
    config = read_yaml(resolve_config_path(base))
    name = data or data_name(opt, str(found.path))
    lang = str(opt.get("data_type") or "google_enc2zh").rpartition("2")[2]
    config["data"] |= {
        "name": name, "lang": lang, "target_langs": [lang], "roles": ["mt", "bt"],
        "root": root or str(Path("~/VisualSearch").expanduser()),
        "feature": "raw" if variant == "image-clip" else opt.get("visual_feature"),
        "sort_batch_by": "source",  # the official collate: longest English caption first
    }  # fmt: skip
    config["text_encoder"] = {
        "name": "hf", "path": str(text_model), "finetune": _finetune(opt),
        "lowercase_strip_accents": True,  # BertTokenizer(do_lower_case=True) on mBERT-cased
        "max_length": found.shape("text_encoding.pos_embed_layer.position_embeddings.weight")[0],
    }  # fmt: skip
    config["visual_encoder"] = _visual_section(found, config["visual_encoder"])
    config["method"] = _method_section(found)
    config["train"] |= {
        "lr": float(opt.get("learning_rate", config["train"]["lr"])),
        "batch_size": int(opt.get("batch_size", config["train"]["batch_size"])),
        "grad_clip": float(opt.get("grad_clip", config["train"]["grad_clip"])),
        "epochs": int(opt.get("num_epochs", config["train"]["epochs"])),
    }  # fmt: skip
    config["eval"] |= {"batch_size": TESTER_BATCH}
    return config


def _finetune(opt: dict[str, Any]) -> list[int] | None:
    """mBERT layers that trained (`frozen` + `layer_list`); [] for `all_frozen`, None for all."""
    frozen = opt.get("frozen", "frozen")
    if frozen == "all_frozen":
        return []
    if frozen != "frozen":
        return None
    layers = opt.get("layer_list") or []
    names = layers if isinstance(layers, list | tuple) else str(layers).split("-")
    return sorted(int(m.group(1)) for name in names if (m := LAYER_NAME.search(str(name))))


def _visual_section(found: OfficialNrccr, base: dict[str, Any]) -> dict[str, Any]:
    variant, opt = found.variant, found.opt
    if variant == "video":
        hidden = found.shape("vid_encoding.input_proj_layer.net.1.weight")[0]
        return {
            "name": "frames", "hidden": hidden, "heads": int(opt.get("video_num_attention", 8)),
            "qk_dim": found.shape("vid_encoding.encoder_layer.self.query.weight")[0],
            "max_frames": VIDEO_MAX_FRAMES,
            "positions": found.shape("vid_encoding.pos_embed_layer.position_embeddings.weight")[0],
            "dropout": 0.1, "compat_padding_pool": True,
        }  # fmt: skip
    if variant == "image-features":
        out_dim, _ = found.shape("vid_encoding.proj.weight")
        return {"name": "feature", "hidden": out_dim, "activation": "relu"}
    return {
        "name": "clip", "path": base.get("path", "openai/clip-vit-base-patch32"),
        "trainable": False, "projection": True,
    }  # fmt: skip


def _method_section(found: OfficialNrccr) -> dict[str, Any]:
    opt = found.opt
    hidden = found.shape("text_encoding.input_proj_layer.net.1.weight")[0]
    qk_dim = found.shape("text_encoding.encoder_layer.self.query.weight")[0]
    embed_dim = found.shape("text_mapping.mapping.fc1.weight")[0]
    visual_hidden = None
    if found.variant == "image-clip":
        visual_hidden = found.shape("vid_encoding.proj.weight")[0]
    section = {
        "name": "nrccr", "hidden": hidden, "heads": int(opt.get("text_num_attention", 8)),
        "qk_dim": qk_dim,
        "positions": found.shape("text_encoding.pos_embed_layer.position_embeddings.weight")[0],
        "embed_dim": embed_dim, "mapping_dropout": float(opt.get("dropout", 0.2)),
        "visual_hidden": visual_hidden, "visual_activation": "none",
        "discriminator": str(opt.get("disc_type", "weak")),
        "nrccr_compat_padding_pool": True, "nrccr_compat_feature_grad": True,
    }  # fmt: skip
    weights = {"margin": "margin", "mt_weight": "tri_alpha", "similarity_weight": "dtl_beta",
               "feature_weight": "l1_gama", "bt_weight": "back_w", "adversarial_weight": "scale",
               "discriminator_lr": "glr"}  # fmt: skip
    section |= {
        ours: float(opt[theirs]) for ours, theirs in weights.items() if opt.get(theirs) is not None
    }
    return section


# ------------------------------------------------------------------------------- the import
def _official_state(found: OfficialNrccr) -> dict[str, torch.Tensor]:
    """The state to map; the CLIP image variant's OpenAI vision tower converted first."""
    if found.variant != "image-clip":
        return found.state
    prefix = "vid_encoding.encoder."
    openai = {k[len(prefix) :]: v for k, v in found.state.items() if k.startswith(prefix)}
    converted = {CLIP_HF + k: v for k, v in clip.vision_state(openai).items()}
    rest = {k: v for k, v in found.state.items() if not k.startswith(prefix + clip.VISION)}
    return rest | converted


def visual_dim(found: OfficialNrccr) -> int | None:
    if found.variant == "video":
        return found.shape("vid_encoding.input_proj_layer.LayerNorm.weight")[0]
    if found.variant == "image-features":
        return found.shape("vid_encoding.proj.weight")[1]
    return None


def import_nrccr(
    checkpoint: str | Path, text_model: str | Path, out: str | Path, *, data: str | None = None,
    root: str | None = None, force: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """Write `out` as a ccrkit run holding the official checkpoint's model; returns the summary
    recorded in the run (`imported`)."""
    from ccrkit.methods.registry import build_method

    found = read_nrccr(checkpoint)
    text_model = Path(text_model).expanduser()
    hf_config, tokenizer = load_text_model(text_model)
    bert = {k[len(BERT) :]: v for k, v in found.state.items() if k.startswith(BERT)}
    check_config(hf_config, tokenizer, bert_shape(bert), text_model)
    config = run_config(found, text_model, data, root)
    build_info = {"visual_dim": visual_dim(found)}
    with staged_run(out, force) as staging:
        save_text_assets(hf_config, tokenizer, assets_dir(staging))
        if found.variant == "image-clip":
            _save_clip_assets(found, assets_dir(staging))
        context = BuildContext(build_info["visual_dim"], assets_dir=assets_dir(staging))
        method = build_method(config, context, f"{found.path} (imported)")
        mapped = remap(_official_state(found), rules(found.variant), str(found.path), WHAT)
        _load(method, mapped, found)
        imported = _summary(found, mapped, config)
        command = {"checkpoint": str(found.path), "text_model": str(text_model), "format": "nrccr",
                   "variant": found.variant, "data": config["data"]["name"]}  # fmt: skip
        write_imported_run(staging, method.eval(), config, build_info, imported, command)
    return imported


def _save_clip_assets(found: OfficialNrccr, assets: Path) -> None:
    from ccrkit.models.base import import_transformers
    from ccrkit.models.visual_pixels import ASSETS_NAME

    hf: Any = import_transformers("ccrkit import nrccr (CLIP)")
    prefix = "vid_encoding.encoder."
    openai = {k[len(prefix) :]: v for k, v in found.state.items() if k.startswith(prefix)}
    fields = clip.vision_config(openai, str(found.path))
    hf.CLIPVisionConfig(**fields).save_pretrained(assets / ASSETS_NAME)


def _load(method: torch.nn.Module, mapped: Mapped, found: OfficialNrccr) -> None:
    """Load every mapped tensor; a ccrkit tensor the checkpoint lacks (or one it has twice or
    in another shape) is an error naming it."""
    from ccrkit.methods.checkpoint import CheckpointError

    try:
        load_module_state(method, mapped.tensors, str(found.path), prefix="")
    except CheckpointError as err:
        raise OfficialCheckpointError(
            f"not {WHAT} of the {found.variant} kind ccrkit rebuilt from its opt: {err}"
        ) from None


def _summary(found: OfficialNrccr, mapped: Mapped, config: dict[str, Any]) -> dict[str, Any]:
    dropped: dict[str, int] = {}
    for note in mapped.dropped.values():
        dropped[note] = dropped.get(note, 0) + 1
    return {
        "format": "nrccr", "source": str(found.path), "variant": found.variant,
        "epoch": found.epoch, "best_rsum": found.best_rsum, "Eiters": found.eiters,
        "tensors": len(mapped.tensors), "dropped": dropped,
        "opt": {k: v for k, v in found.opt.items() if isinstance(v, str | int | float | bool | list | dict | type(None))},
        "data": config["data"]["name"],
    }  # fmt: skip
