"""ccrkit: cross-lingual cross-modal retrieval — translate, train noise-robust models, evaluate, serve."""

__version__ = "0.1.0"
