"""Retrieval scoring, pure numpy: score sources served block by block (`scores`), the ranks of the
relevant items under a tie rule (`ranking`) and the papers' recall metrics (`metrics`).

Below every stage that scores retrieval: `ccrkit.evaluate` (the protocol, fusion, MRV; it
re-exports these names) and the world, whose report scores its backbone with the same metrics.
"""
