"""tests/methods/nrf: the NRF/CL2CM helpers (`later_methods`), the fake world of tests/train and the NRCCR
helpers importable."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "train"))  # trainfakes
sys.path.insert(0, str(HERE.parent / "nrccr"))  # nrccr_helpers
