"""Standard Webhooks signatures: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.

Each endpoint has a secret `whsec_<base64 of 32 random bytes>`. During a rotation the header
carries one signature per live secret, space-separated, so receivers that still hold the old
secret keep verifying until they switch. Inbound platform webhooks are verified here too
(`verify_header`), with whatever secret the merchant's platform gave them (`any_key`).
"""

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Iterable

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
_SECRET_BYTES = 32  # the HMAC-SHA256 block of key material; Standard Webhooks allows 24-64


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The raw key behind `whsec_...`; ValueError if it is not one of ours."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with whsec_")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except binascii.Error:
        raise ValueError("a webhook secret is whsec_ followed by base64") from None
    if not 24 <= len(key) <= 64:
        raise ValueError("a webhook secret holds 24 to 64 bytes")
    return key


def any_key(secret: str) -> bytes:
    """The key of a secret we did not mint: `whsec_` + base64 as Standard Webhooks writes it,
    else the text itself (platforms hand out secrets in their own formats)."""
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
        except binascii.Error:
            pass
    return secret.encode()


def _digest(key: bytes, msg_id: str, timestamp: str, body: bytes) -> bytes:
    # The timestamp as written in the header: a verifier must not reformat what was signed.
    signed = b"%s.%s.%s" % (msg_id.encode(), timestamp.encode(), body)
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    digest = _digest(secret_key(secret), msg_id, str(timestamp), body)
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify_header(key: bytes, header: str, msg_id: str, timestamp: str, body: bytes) -> bool:
    """True if any `v1,<base64>` signature in the header is `key`'s (constant-time compare)."""
    expected = _digest(key, msg_id, timestamp, body)
    for candidate in header.split():
        version, _, signature = candidate.partition(",")
        try:
            given = base64.b64decode(signature, validate=True)
        except binascii.Error:
            continue
        if version == "v1" and hmac.compare_digest(expected, given):
            return True
    return False


def signature_header(secrets_: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> str:
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in secrets_)


def webhook_headers(
    secrets_: Iterable[str], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt (the timestamp is the send time)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets_, msg_id, timestamp, body),
    }
