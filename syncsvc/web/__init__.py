"""The Flask app: API, auth, dashboard, health, the API's typed models and its OpenAPI document.

PUBLIC is the package's surface: the application factory (ops serves it). Nothing else imports
the web layer.
"""

PUBLIC: dict[str, tuple[str, ...]] = {"syncsvc.web.app": ("create_app",)}
