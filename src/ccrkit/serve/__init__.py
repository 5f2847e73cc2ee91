"""The search server: `create_app(model, index_dir)` (FastAPI) and the web page in `static/`."""

from ccrkit.serve.app import create_app
from ccrkit.serve.service import ServeSettings

__all__ = ["ServeSettings", "create_app"]
