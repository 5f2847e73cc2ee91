"""The model card (README.md) of an exported run: what it is, how to load it, how it scored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from ccrkit.evaluate.table import results_tables

FOLDER_PLACEHOLDER = "path/to/this/folder"


def model_card(
    info: Mapping[str, Any], config: Mapping[str, Any], metrics: Mapping[str, Any], format: str
) -> str:
    data = config.get("data") or {}
    library = "sentence-transformers" if format == "sentence-transformers" else "transformers"
    front = {
        "library_name": library, "pipeline_tag": "feature-extraction",
        "language": list(info["languages"]),
        "tags": ["ccrkit", "cross-lingual", "cross-modal-retrieval", "text-to-image-retrieval"],
    }  # fmt: skip
    parts = [
        f"---\n{yaml.safe_dump(front, sort_keys=False, allow_unicode=True)}---\n",
        f"# {info['run']}: text encoder for cross-lingual {_modality(data)} search\n",
        f"Trained with ccrkit {info['ccrkit_version']} (method `{info['method']}`, data "
        f"`{data.get('name')}`, {info['checkpoint']} checkpoint, epoch {info['epoch']}). A "
        f"caption or query in {', '.join(info['languages'])} becomes a {info['text']['dim']}-d "
        "unit vector; its dot product with an item's vector ranks the items. The text side is a "
        "Hugging Face model (this folder) followed by mean pooling over the real tokens, the "
        f"projection in `{info['text']['file']}` and L2 normalisation.\n",
        "## Use it\n",
    ]
    if format == "sentence-transformers":
        parts.append(
            "```python\nfrom sentence_transformers import SentenceTransformer\n\n"
            f'model = SentenceTransformer("{FOLDER_PLACEHOLDER}")\n'
            'vectors = model.encode(["a red star"], normalize_embeddings=True)\n```\n'
        )
        parts.append("With transformers alone:\n")
    parts.append(f"```python\n{transformers_snippet(info)}```\n")
    if info.get("visual"):
        visual = info["visual"]
        parts.append(
            "## The visual side\n\n"
            f"Items are encoded from {visual['input']}: the layers `visual.N.weight`/`.bias` of "
            f"`{visual['file']}` in order (activation per layer in `ccrkit_export.json`: "
            f"{', '.join(layer['activation'] for layer in visual['layers'])}), then L2 "
            "normalisation, the same way as `embed` above.\n"
        )
    rows = {k: v for k, v in metrics.items() if isinstance(v, Mapping)}
    if rows:
        parts.append(
            f"## Test metrics\n\nOn the test split of `{data.get('name')}` (R@K in %, mAP in %; "
            "`fused` rows fuse each query with its MT into English, as NRCCR does):\n\n"
            f"{results_tables(rows)}\n"
        )
    config_text = yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True)
    parts.append(f"## Training config\n\n```yaml\n{config_text}```\n")
    return "\n".join(parts)


def transformers_snippet(info: Mapping[str, Any]) -> str:
    """Python that computes the text embedding with transformers, torch and safetensors only."""
    text = info["text"]
    lines = [
        "import torch",
        "from safetensors.torch import load_file",
        "from transformers import AutoModel, AutoTokenizer",
        "",
        f'folder = "{FOLDER_PLACEHOLDER}"',
        "tokenizer = AutoTokenizer.from_pretrained(folder)",
        "model = AutoModel.from_pretrained(folder).eval()",
        f'heads = load_file(f"{{folder}}/{text["file"]}")',
        "",
        "",
        "def embed(texts):",
        "    batch = tokenizer(texts, padding=True, truncation=True, "
        f"max_length={text['max_length']}, return_tensors='pt')",
        "    with torch.no_grad():",
        "        states = model(input_ids=batch['input_ids'], "
        "attention_mask=batch['attention_mask']).last_hidden_state",
        "    mask = batch['attention_mask'].unsqueeze(-1).to(states.dtype)",
        "    x = (states * mask).sum(1) / mask.sum(1).clamp(min=1)  # mean over real tokens",
    ]
    for layer in text["layers"]:
        step = f"x @ heads['{layer['weight']}'].T + heads['{layer['bias']}']"
        lines.append(
            f"    x = {'torch.relu(' + step + ')' if layer['activation'] == 'relu' else step}"
        )
    lines += [
        "    return torch.nn.functional.normalize(x, dim=-1)",
        "",
        "",
        'vectors = embed(["a red star"])',
    ]
    return "\n".join(lines) + "\n"


def _modality(data: Mapping[str, Any]) -> str:
    return "video" if "video" in str(data.get("name", "")) else "image"
