"""Typed schema of the media server→client events (realtime-contract §3 and §8.3)."""

from __future__ import annotations

from typing import Literal

import msgspec

from engine.rooms.messages import Event


class NewProducer(Event):
    producerId: str
    userId: int
    kind: Literal["audio"]
    source: Literal["mic", "music"]


class ProducerClosed(Event):
    producerId: str
    userId: int


class SpeakerActive(Event):
    userId: int | Literal[""]
    activeSpeakers: list[int]
    timestamp: int


class MediaReconnect(Event):
    roomId: str
    reason: Literal["node_lost", "idle"]  # its node was lost; its router was closed as it stood empty


SERVER_EVENTS: dict[str, type[msgspec.Struct]] = {
    "media:reconnect": MediaReconnect,
    "audio:newProducer": NewProducer,
    "audio:producerClosed": ProducerClosed,
    "speaker:active": SpeakerActive,
}
