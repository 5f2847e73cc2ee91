"""Read a released `torch.save` file without running anything it carries.

Official checkpoints are Python pickles: unpickling one with plain `torch.load` can call any
function the file names (a `__reduce__` that runs a shell command, say). Every read here goes
through PyTorch's restricted unpickler (`weights_only=True`) with an explicit allow-list of the
classes a genuine checkpoint holds (NRCCR: `argparse.Namespace` for its options). The globals the
pickle names are listed first, without executing anything, so a refusal names what was found.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch


class OfficialCheckpointError(ValueError):
    """A file is not the official checkpoint it is said to be; nothing of it was executed."""


def _qualified(obj: Any) -> str:
    """The name a pickle uses for `obj`; `(obj, name)` registers an object under another name
    (as `torch.serialization.safe_globals` accepts it)."""
    if isinstance(obj, tuple):
        return obj[1]
    return f"{obj.__module__}.{obj.__qualname__}"


def load_restricted(path: str | Path, allowed: Sequence[Any], what: str) -> Any:
    """`torch.load(path)` on the CPU, refusing any pickled global outside `allowed`.

    `what` names the expected kind of file in messages ("an NRCCR checkpoint"). Raises
    `FileNotFoundError` or `OfficialCheckpointError` (one line: what was found instead).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file")
    if not zipfile.is_zipfile(path):
        raise OfficialCheckpointError(
            f"{path}: not {what}: not a torch.save archive (truncated, or another kind of file)"
        )
    allowed_names = {_qualified(obj) for obj in allowed}
    try:
        named = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except (RuntimeError, OSError, zipfile.BadZipFile, pickle.UnpicklingError, EOFError) as err:
        raise OfficialCheckpointError(
            f"{path}: not {what}: unreadable torch.save archive ({_first_line(err)})"
        ) from None
    foreign = sorted(set(named) - allowed_names)
    if foreign:
        raise OfficialCheckpointError(
            f"{path}: not {what}: its pickle holds {', '.join(foreign)} (allowed: "
            f"{', '.join(sorted(allowed_names)) or 'plain containers and tensors'}); refused "
            "without unpickling it"
        )
    try:
        with torch.serialization.safe_globals(list(allowed)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, zipfile.BadZipFile, pickle.UnpicklingError, EOFError) as err:
        raise OfficialCheckpointError(
            f"{path}: not {what}: cannot be read safely ({_first_line(err)})"
        ) from None


def _first_line(err: BaseException) -> str:
    """The informative line of a loader error (PyTorch's restricted unpickler opens with advice
    about `weights_only`; what it refused comes later)."""
    text = str(err).strip()
    refused = re.search(r"(Unsupported global: [^\n]+|but got [^\n]+)", text)
    line = refused.group(1) if refused else " ".join(text.splitlines()[:1])
    return line.strip()[:300] or type(err).__name__
