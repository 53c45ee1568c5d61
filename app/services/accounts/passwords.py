"""The password policy, applied wherever a password is set: registration, claiming an
invitation, a password reset.

At least :data:`MIN_LENGTH` characters (and at most :data:`MAX_LENGTH`, which bounds the
Argon2 input), not one of the commonly used passwords of ``data/common-passwords.txt.gz``
(compared lowercased, as the list is), and not the account's own email or its local part:
those are the first guesses of anyone who targets one account.

The list is read on the first check, not at import: it costs ~10 ms and 2 MB, which every
``loadline`` command (``--help`` included) would otherwise pay for nothing.
"""

import functools
import gzip
from importlib.resources import files

from app.errors import Invalid

MIN_LENGTH = 8
MAX_LENGTH = 256
FIELD = ("body", "password")

_LIST = "common-passwords.txt.gz"


@functools.cache
def common_passwords() -> frozenset[str]:
    """The lowercased list, read once per process."""
    data = files("app.services.accounts").joinpath("data", _LIST).read_bytes()
    return frozenset(gzip.decompress(data).decode().splitlines())


def check(password: str, *, email: str) -> None:
    """422 naming ``password`` when ``password`` may not be set for the account ``email``."""
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise Invalid(f"A password has {MIN_LENGTH} to {MAX_LENGTH} characters", field=FIELD)
    lowered = password.lower()
    if lowered in common_passwords():
        raise Invalid(
            "This password is one of the most commonly used ones; choose another", field=FIELD
        )
    address = email.strip().lower()
    if lowered.strip() in {address, address.partition("@")[0]}:
        raise Invalid("A password may not be the account's email or its name part", field=FIELD)
