"""Write an imported model as a normal ccrkit run folder, all at once.

The folder is assembled in a staging folder beside `out` (`assets/`, `checkpoints/best.json` +
safetensors, `run.json`) and renamed into place at the end, so `ccrkit evaluate --checkpoint`,
`ccrkit index build` and `ccrkit serve` never see half an import. It reads like a trained run
(config, build info, tensors under `model.`); its `imported` record says where it came from.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ccrkit.methods.base import Method
from ccrkit.methods.checkpoint import ASSETS_DIR, model_tensors, write_checkpoint
from ccrkit.runs import run_record


@contextmanager
def staged_run(out: str | Path, force: bool) -> Iterator[Path]:
    """A staging folder that becomes `out` when the block ends without error."""
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise FileExistsError(
            f"{out} already exists and is not empty; choose another --out or pass --force"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.import-"))
    try:
        yield staging
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def assets_dir(staging: Path) -> Path:
    return staging / ASSETS_DIR


def write_imported_run(
    staging: Path, method: Method, config: dict[str, Any], build_info: dict[str, Any],
    imported: dict[str, Any], command: dict[str, Any],
) -> None:  # fmt: skip
    """The best checkpoint (the method's tensors with `config`) and `run.json` of an import."""
    record = {"epoch": imported.get("epoch"), "config": config, "build": build_info,
              "imported": imported}  # fmt: skip
    with run_record(staging, "import", command) as run:
        write_checkpoint(staging, "best", record, model_tensors(method))
        run.extra["imported"] = imported
