"""Quiet transformers for one block: its progress bars (and, if asked, its warnings).

transformers 5 draws a "Loading weights" / "Writing model shards" bar for every load and save
(a second on stderr, over in milliseconds) and logs a load report of weights a model does not
use (e.g. the 200 CLIP text weights a vision tower skips). ccrkit checks what matters itself
and keeps stderr for what the user must read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def quiet_transformers(warnings: bool = False) -> Iterator[None]:
    """No transformers progress bars inside the block; with `warnings`, errors only."""
    # transformers on first use: importing it costs seconds that other commands need not pay
    from transformers.utils import logging

    bars, level = logging.is_progress_bar_enabled(), logging.get_verbosity()
    logging.disable_progress_bar()
    if warnings:
        logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(level)
        if bars:
            logging.enable_progress_bar()
