"""Time the world's captions-and-MT stage alone: every human caption and every MT of one
collection, in one process (CPU seconds, so that other load disturbs it less than wall time).

    python benchmarks/bench_world_text.py [CONFIG] [KEY=VALUE ...]

Prints, per collection, the CPU seconds of `collection_text` and the number of distinct
sentences translated per direction (the MT's work grows with how varied the captions are).
"""

from __future__ import annotations

import gc
import os
import sys
import time
from collections import Counter

from ccrkit.config import load_config
from ccrkit.world import mt, text
from ccrkit.world.config import WorldConfig
from ccrkit.world.layout import IMAGE_COLLECTION, VIDEO_COLLECTION
from ccrkit.world.world import sample_items


def main(argv: list[str]) -> int:
    name = argv[0] if argv and "=" not in argv[0] else "world-default"
    cfg = load_config(WorldConfig, name, [a for a in argv if "=" in a])
    translated: Counter[str] = Counter()
    translate = mt.translate_readings

    def counting(readings, src, tgt, *args, **kwargs):  # type: ignore[no-untyped-def]
        translated["en->xx" if src == "en" else "xx->en"] += len(readings)
        return translate(readings, src, tgt, *args, **kwargs)

    text.translate_readings = counting  # type: ignore[assignment]
    gc.disable()  # as the world generates
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    for collection, per_item in ((IMAGE_COLLECTION, cfg.image.captions),
                                 (VIDEO_COLLECTION, cfg.video.captions)):  # fmt: skip
        translated.clear()
        items = sample_items(cfg, collection)
        start = time.process_time()
        text.collection_text(items, per_item, cfg)
        cpu = time.process_time() - start
        print(f"{collection}: {cpu:.1f} s CPU; sentences translated: {dict(translated)}")
    print(f"({name}, load before: {load:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
