"""The Flask app: API, auth, dashboard, health."""
