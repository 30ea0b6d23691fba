"""The application's Ed25519 key pair: Discord signs every HTTP interaction with it.

PyNaCl (the ``pynacl`` package, in the ``test`` extra and hikari's ``server`` extra) is imported
only when a key is made, so an emulator that never delivers over HTTP does not need it.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nacl.signing import SigningKey


class Signer:
    """Signs request bodies as Discord does: Ed25519 over ``timestamp + body``, hex encoded.

    Args:
        seed: Seed for the key; the same seed gives the same key pair. ``None``: a random key.

    Raises:
        RuntimeError: If PyNaCl is not installed.
    """

    def __init__(self, seed: int | None) -> None:
        try:
            from nacl.signing import SigningKey  # noqa: PLC0415 - optional dependency, see the module docstring
        except ModuleNotFoundError as exc:
            msg = "HTTP interactions need PyNaCl: install castbot-hikari[test] (or pynacl)"
            raise RuntimeError(msg) from exc
        # A test key: reproducible from the emulator's seed on purpose, never a secret.
        key_seed = random.Random(seed).randbytes(32)  # noqa: S311
        self._key: SigningKey = SigningKey(key_seed)
        self.public_key: str = bytes(self._key.verify_key).hex()

    def sign(self, timestamp: bytes, body: bytes) -> str:
        """Return the hex signature Discord puts in ``X-Signature-Ed25519``."""
        return self._key.sign(timestamp + body).signature.hex()


def try_signer(seed: int | None) -> Signer | None:
    """Return a :class:`Signer`, or ``None`` when PyNaCl is missing."""
    try:
        return Signer(seed)
    except RuntimeError:
        return None
