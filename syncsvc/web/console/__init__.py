"""The operator's console: server-rendered pages at ``/`` behind the same token as the API.

Public surface: :func:`install` (mounts the blueprint, the session cookie and CSRF checks).
"""

from syncsvc.web.console import reconcile_pages  # noqa: F401 - registers its routes on the blueprint
from syncsvc.web.console.pages import install

__all__ = ["install"]
