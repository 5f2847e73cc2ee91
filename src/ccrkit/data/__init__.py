"""Data: benchmark layouts, safe readers, validation, datasets, and the synthetic world."""
