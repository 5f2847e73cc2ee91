"""Data: benchmark layouts, safe readers, validation, datasets (the synthetic world is `ccrkit.world`).

Public names: `DataError`, the readers (`read_captions`, `read_cclm_json`, `BigFile`,
`read_video2frames`, `read_id_list`, `load_image`, `decode_video`), the specs (`DataSpec`,
`load_data_spec`), validation (`check_data`, `DataReport`; `check_files`, the same checks raising
for `train`/`evaluate`, with `EVAL_ROLES`), and the datasets (`TrainDataset`, `EvalDataset`,
`TrainExample`, `TrainCollate`, `VisualLoader`, `collate_visual`).
"""

from ccrkit.data.bigfile import BigFile, write_bigfile
from ccrkit.data.captions import (
    CaptionRecord,
    item_id_of,
    read_captions,
    read_cclm_images,
    read_cclm_json,
)
from ccrkit.data.check import EVAL_ROLES, DataReport, SplitSummary, check_data, check_files
from ccrkit.data.datasets import EvalDataset, TrainCollate, TrainDataset, TrainExample
from ccrkit.data.errors import DataError
from ccrkit.data.media import decode_video, load_image, to_pixels
from ccrkit.data.spec import DataSpec, StoreSpec, available_data_specs, load_data_spec
from ccrkit.data.text import read_id_list
from ccrkit.data.video2frames import read_video2frames, write_video2frames
from ccrkit.data.visual import ResolvedStore, VisualLoader, collate_visual, resolve_store

__all__ = [
    "EVAL_ROLES", "BigFile", "CaptionRecord", "DataError", "DataReport", "DataSpec", "EvalDataset",
    "ResolvedStore", "SplitSummary", "StoreSpec", "TrainCollate", "TrainDataset", "TrainExample",
    "VisualLoader", "available_data_specs", "check_data", "check_files", "collate_visual",
    "decode_video", "item_id_of", "load_data_spec", "load_image", "read_captions",
    "read_cclm_images", "read_cclm_json", "read_id_list", "read_video2frames", "resolve_store",
    "to_pixels", "write_bigfile", "write_video2frames",
]  # fmt: skip
