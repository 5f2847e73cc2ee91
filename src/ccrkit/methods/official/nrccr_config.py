"""The ccrkit run config of an official NRCCR checkpoint: the shipped training config of its
benchmark (`configs/runs/<dataset>/nrccr-*.yaml`) with the architecture, weights and switches of
its `opt` and tensor shapes, and the compatibility switches that reproduce the official forward (see
`ccrkit.methods.official.nrccr`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ccrkit.config import read_yaml, resolve_config_path
from ccrkit.methods.official.nrccr_file import OfficialNrccr

TESTER_BATCH = 64  # test_base.py's --batch_size: the official test embeddings' batches
VIDEO_MAX_FRAMES = 64  # VIDEO_MAX_LEN of the official video data provider
LAYER_NAME = re.compile(r"layer\.(\d+)$")
BASE_CONFIGS = {"multi30k": "nrccr-multi30k", "mscoco": "nrccr-mscoco", "vatex": "nrccr-vatex",
                "msrvttcn": "nrccr-msrvttcn", "msrvtt10kcn": "nrccr-msrvttcn"}  # fmt: skip


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
    benchmark (`configs/runs/<dataset>/nrccr-*.yaml`) with the architecture, weights and switches
    of `opt`."""
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
