"""Make the fake data layer (`trainfakes`) and the tiny models (`tinymodels`) importable."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "train"))
sys.path.insert(0, str(HERE.parent / "models"))
