"""The catalog sync's vocabulary and defaults, written once for the API, the services and the
worker: the values a config, a run and a webhook receipt can take.

The database keeps them as plain strings (app/db cannot import services); the API validates what
it reads back against these types.
"""

from typing import Literal, TypeGuard, get_args

# What `format=` accepts; `auto` detects (see detect.py).
Format = Literal["auto", "csv", "tsv", "shopify", "woocommerce", "json", "ndjson", "gmc"]
# `full` also deletes the products a file leaves out.
Mode = Literal["incremental", "full"]
SourceType = Literal["upload", "url"]
RunSource = Literal["upload", "feed"]
RunTrigger = Literal["upload", "manual", "schedule"]
RunStatus = Literal["running", "succeeded", "failed", "unchanged", "interrupted"]
FinalStatus = Literal["succeeded", "failed", "unchanged", "interrupted"]
ReceiptStatus = Literal["applied", "duplicate", "ignored"]
ReceiptAction = Literal["created", "updated", "deleted", "unchanged"]

DEFAULT_FORMAT: Format = "auto"
DEFAULT_MODE: Mode = "incremental"
DEFAULT_CURRENCY = "USD"
# A run with more invalid rows than this share fails and changes nothing.
DEFAULT_ERROR_THRESHOLD = 0.1
# `full` mode refuses to delete more than this share of the catalog unless forced.
DEFAULT_MAX_DELETE_RATIO = 0.5


def _is_format(value: str) -> TypeGuard[Format]:
    return value in get_args(Format)


def _is_mode(value: str) -> TypeGuard[Mode]:
    return value in get_args(Mode)


def as_format(value: str) -> Format:
    """A stored format back as its type; anything else is a bug, not bad input."""
    if not _is_format(value):
        raise ValueError(f"unknown catalog format {value!r}")
    return value


def as_mode(value: str) -> Mode:
    if not _is_mode(value):
        raise ValueError(f"unknown sync mode {value!r}")
    return value
