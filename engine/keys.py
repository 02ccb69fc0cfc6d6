"""Every Redis key and channel name is built here, with its hash tag and the deployment prefix.

Hash tags keep every key one Lua script touches in one cluster slot (DESIGN.md "State and
consistency"); the prefix lets tests and several deployments share one server.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = ""

    def rate_bucket(self, scope: str, subject: str) -> str:
        return f"{self.prefix}{{rl:{scope}:{subject}}}"

    def session_revoked(self, session_id: str) -> str:
        return f"{self.prefix}{{auth:s:{session_id}}}:revoked"

    def user_sockets(self, user_id: int) -> str:
        return f"{self.prefix}{{u:{user_id}}}:sockets"

    def auth_channel(self) -> str:
        """Pub/sub channel telling every engine process to drop a user's live sockets."""
        return f"{self.prefix}flylive:auth"

    def socketio_channel(self) -> str:
        return f"{self.prefix}flylive:socketio"
