"""Index types by name (`INDEX_TYPES`); importing this package registers the built-in ones.

A new type is one module: a class derived from `IndexType`, its parameters' dataclass as
`params_class`, and `@INDEX_TYPES.register("name")` (see `base.py` and docs/architecture.md).
"""

from ccrkit.index.types import flat, flat16, hnsw, ivfpq  # noqa: F401  (registers them)
from ccrkit.index.types.base import INDEX_TYPES, IndexType, NoParams

__all__ = ["INDEX_TYPES", "IndexType", "NoParams"]
