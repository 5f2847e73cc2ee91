"""A test backend for sharded runs (a plug-in: `plugins=[shard_backend]`): cacheable, the words
of a caption reversed, every translated text logged with the rank that did it, and a rank that
dies (os._exit, as a killed process) after a number of texts when the environment asks."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ccrkit.translate.backend import BACKENDS, Output, Segment

LOG_ENV, DIE_ENV = "SHARD_TEST_LOG", "SHARD_TEST_DIE"  # DIE: "rank:after"


@BACKENDS.register("reverse-words")
class ReverseWords:
    name = "reverse-words"
    cacheable = True
    batch_size = 2

    def __init__(self, config: Any, src: str, tgt: str, context: Any = None) -> None:
        self.src, self.tgt, self.done = src, tgt, 0

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name, "src": self.src, "tgt": self.tgt}

    def prepare(self, segments: Sequence[Segment]) -> list[str]:
        return []

    def load(self) -> None:
        pass

    def translate(self, segments: Sequence[Segment]) -> list[Output]:
        rank = os.environ.get("RANK", "0")
        die = os.environ.get(DIE_ENV, "")
        if die and die.split(":")[0] == rank and self.done >= int(die.split(":")[1]):
            os._exit(9)  # killed: no clean-up, no exception handling
        with Path(os.environ[LOG_ENV]).open("a", encoding="utf-8") as log:
            log.writelines(f"{rank}\t{s.text}\n" for s in segments)
        self.done += len(segments)
        return [Output(" ".join(reversed(s.text.split()))) for s in segments]
