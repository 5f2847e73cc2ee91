"""`video2frames.txt`: which BigFile rows (frames) make up each video.

The NRCCR code runs `eval` on this file. Here it is parsed, never executed: JSON first, then Python's
own parser (`ast.parse`, which builds a syntax tree and runs nothing), and the tree is accepted only
if it is a single dict literal whose keys are strings and whose values are lists (or tuples) of
strings. The dict is then built from the tree's constants directly, so no evaluation happens at all.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

from ccrkit.data.errors import DataError
from ccrkit.runs import write_atomic

MAX_BYTES = 2 * 1024**3
EXPECTED = "expected a dict literal {video_id: [frame_id, ...]} of strings only"


def read_video2frames(path: str | Path, max_bytes: int = MAX_BYTES) -> dict[str, list[str]]:
    """{video id: [frame id, ...]} from a JSON or Python-literal file; anything else is refused."""
    path = Path(path)
    if not path.is_file():
        raise DataError("video2frames file not found", path)
    size = path.stat().st_size
    if size > max_bytes:
        raise DataError(f"{size} bytes is larger than the {max_bytes}-byte limit", path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"not UTF-8 text (byte offset {err.start})", path) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return _from_python_literal(text, path)
    return _validated(data, path)


def _validated(data: object, path: Path) -> dict[str, list[str]]:
    if not isinstance(data, dict):
        raise DataError(f"{EXPECTED}; got {type(data).__name__}", path)
    for video, frames in data.items():
        if not isinstance(frames, list) or not all(isinstance(f, str) for f in frames):
            raise DataError(f"video '{video}': {EXPECTED}", path)
    return data


def _from_python_literal(text: str, path: Path) -> dict[str, list[str]]:
    try:
        tree = ast.parse(text, filename=str(path), mode="eval")
    except SyntaxError as err:
        raise DataError(f"neither JSON nor a Python literal: {err.msg}", path, err.lineno) from None
    except (RecursionError, MemoryError, ValueError):
        raise DataError(f"cannot be parsed; {EXPECTED}", path) from None
    node = tree.body
    if not isinstance(node, ast.Dict):
        raise DataError(
            f"{EXPECTED}; found {type(node).__name__} (code is never run)", path, node.lineno
        )
    result: dict[str, list[str]] = {}
    for key, value in zip(node.keys, node.values, strict=True):
        video = _string(key, path, node)
        if not isinstance(value, ast.List | ast.Tuple):
            raise DataError(
                f"video '{video}': {EXPECTED}; found {type(value).__name__} (code is never run)",
                path,
                value.lineno,
            )
        if video in result:
            raise DataError(f"video '{video}' appears twice", path, value.lineno)
        result[video] = [_string(element, path, value) for element in value.elts]
    return result


def _string(node: ast.expr | None, path: Path, parent: ast.expr) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    found = "'**' unpacking" if node is None else type(node).__name__
    line = getattr(node, "lineno", parent.lineno)
    raise DataError(f"{EXPECTED}; found {found} (code is never run)", path, line)


def write_video2frames(path: str | Path, video2frames: dict[str, list[str]]) -> None:
    """Written as JSON: readable here and by `eval` in the original code alike."""
    text = json.dumps(video2frames, ensure_ascii=False, indent=0)
    write_atomic(path, (text + "\n").encode("utf-8"))
