"""Search index: encode a gallery with a trained model, FAISS + SQLite + manifest, search it.

The model and gallery are protocols (`RetrievalModel`, `Gallery`); `load_retrieval_model` and
`open_gallery` are the seams that turn a training run and a data set into them.
"""

from ccrkit.index.build import build_index, encode_gallery
from ccrkit.index.config import IndexConfig
from ccrkit.index.gallery import Gallery, open_gallery
from ccrkit.index.manifest import Manifest, read_manifest
from ccrkit.index.model import (
    IndexMismatchError,
    RetrievalModel,
    check_compatible,
    load_retrieval_model,
)
from ccrkit.index.search import (
    Hit,
    Query,
    SearchIndex,
    TextSearcher,
    language_hint,
    open_searcher,
)
from ccrkit.index.types import INDEX_TYPES, IndexType

__all__ = [
    "INDEX_TYPES",
    "Gallery",
    "Hit",
    "IndexConfig",
    "IndexMismatchError",
    "IndexType",
    "Manifest",
    "Query",
    "RetrievalModel",
    "SearchIndex",
    "TextSearcher",
    "build_index",
    "check_compatible",
    "encode_gallery",
    "language_hint",
    "load_retrieval_model",
    "open_gallery",
    "open_searcher",
    "read_manifest",
]
