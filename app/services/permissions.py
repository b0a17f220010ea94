"""The permissions a key can carry (DESIGN §5)."""

PERMISSIONS: dict[str, str] = {
    "products:read": "Read the product catalog and search it.",
    "products:write": "Create, change and delete products one by one.",
    "sync:read": "Read sync configuration, status, history and runs.",
    "sync:write": "Change the sync configuration, upload catalogs and trigger syncs.",
    "chat:write": "Open chat sessions and send messages (what the widget does).",
    "analytics:read": "Read widget and chat analytics.",
    "webhooks:read": "List webhook endpoints, event types and deliveries.",
    "webhooks:write": "Create, change, test and delete webhook endpoints; retry deliveries.",
    "keys:read": "List API keys (never their secrets).",
    "keys:write": "Create and revoke API keys.",
    "settings:read": "Read merchant settings such as allowed domains.",
    "settings:write": "Change merchant settings such as allowed domains.",
}

# What a publishable key (pasted into a public web page) can ever do.
PUBLISHABLE_PERMISSIONS: tuple[str, ...] = ("chat:write",)


def unknown_permissions(names: list[str]) -> list[str]:
    return [name for name in names if name not in PERMISSIONS]
