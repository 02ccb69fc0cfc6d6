"""Password hashing: argon2id for every new hash; legacy Laravel bcrypt hashes still verify.

Hashing is deliberately slow (tens of milliseconds), so it runs in a worker thread and never
blocks the event loop that serves every socket of this process.
"""

from __future__ import annotations

import asyncio

import argon2
import bcrypt

_LEGACY_BCRYPT = ("$2y$", "$2b$", "$2a$")


class PasswordHasher:
    def __init__(self, memory_kib: int = 65536, time_cost: int = 3) -> None:
        self._argon = argon2.PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=1, type=argon2.Type.ID
        )
        # Verifying an unknown user's login against this keeps its timing like a real account's.
        self._dummy = self._argon.hash("not-a-real-password")

    def _verify(self, stored: str, password: str) -> bool:
        if stored.startswith(_LEGACY_BCRYPT):
            # PHP writes $2y$, which is the same algorithm as $2b$.
            candidate = b"$2b$" + stored[4:].encode()
            return bcrypt.checkpw(password.encode()[:72], candidate)
        try:
            return self._argon.verify(stored, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return stored.startswith(_LEGACY_BCRYPT) or self._argon.check_needs_rehash(stored)

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._argon.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        return await asyncio.to_thread(self._verify, stored or self._dummy, password) and stored is not None
