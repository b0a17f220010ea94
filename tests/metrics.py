"""Reading the app's metrics as /metrics exposes them, through the registry's public API."""

from app.metrics import REGISTRY


def sample(name: str, **labels: str) -> float:
    """The current value of one series (0 before its first increment)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0
