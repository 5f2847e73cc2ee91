"""Evaluation: the papers' retrieval metrics, fusion, MRV and the evaluation protocol."""
