"""`ccrkit export`: a trained run as a folder that other libraries load without ccrkit.

`export_run(run_dir, out, format)` writes the run's Hugging Face text encoder (`save_pretrained`
of the trained weights and the tokenizer), its projection into the shared space, the visual
head where it is plain layers over precomputed features, and a model card (README.md) with the
run's config and test metrics. `format="sentence-transformers"` adds the module files that
`SentenceTransformer(DIR)` reads (Transformer → mean Pooling → Dense → Normalize).
"""

from __future__ import annotations

from ccrkit.export.folder import FORMATS, ExportError, ExportResult, export_run

__all__ = ["FORMATS", "ExportError", "ExportResult", "export_run"]
