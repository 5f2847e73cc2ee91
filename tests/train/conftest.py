"""Make the fake data layer (`trainfakes`) importable by the trainer tests."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
