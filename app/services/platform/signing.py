"""Loadline's webhook signature, the one scheme for both directions.

GPS bridges sign what they push to us (``app.services.integrations.gps``) and we sign what
we push to a team's endpoint (``app.services.outbound``) the same way:
``X-Loadline-Signature: sha256=<hex HMAC-SHA256(secret, X-Loadline-Timestamp + "." + raw
body)>``, the timestamp in epoch seconds.
"""

import hashlib
import hmac

SIGNATURE_HEADER = "X-Loadline-Signature"
TIMESTAMP_HEADER = "X-Loadline-Timestamp"
PREFIX = "sha256="


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The hex HMAC-SHA256 a sender puts after ``sha256=``."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_matches(secret: str, timestamp: str, body: bytes, header: str | None) -> bool:
    """Constant-time comparison; the hex digits may come in either case."""
    if header is None or not header.startswith(PREFIX):
        return False
    given = header[len(PREFIX) :].strip().lower().encode()
    return hmac.compare_digest(given, signature(secret, timestamp, body).encode())
