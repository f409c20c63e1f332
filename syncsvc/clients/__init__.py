"""Remote clients: Katana and Luca over HTTP, the shared Luca session, the Katana budget.

PUBLIC is the package's surface, module by module: other packages import only these names
(tests/unit/test_layers.py checks it).
"""

PUBLIC: dict[str, tuple[str, ...]] = {
    "syncsvc.clients.alerts": ("send_alert",),
    "syncsvc.clients.budget": ("KatanaBudget",),
    "syncsvc.clients.katana": ("KatanaClient",),
    "syncsvc.clients.katana_webhooks": ("WebhookAdmin",),
    "syncsvc.clients.luca": ("LucaClient",),
}
