"""The reference mediasoup node (media_node/) against a test engine, with real WebRTC audio.

Runs only where a mediasoup worker is available (MEDIASOUP_WORKER_BIN, or `make media-node-install`
/ `make media-node-distro` having put one under media_node/node_modules/mediasoup); otherwise it is
skipped with the reason. The audio test also needs the Python WebRTC client (aiortc with
pymediasoup, the `media-test` extra those make targets install): a speaker sends a tone through the
node, a listener receives it, and the node's own reports (speaker level, pause, close) reach the
room through the engine.
"""

from __future__ import annotations

import array
import asyncio
import fractions
import importlib.util
import math
import os
import shutil
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from engine.appkeys import REALTIME, SERVICES
from engine.media import node_events, store
from tests.helpers import join, new_user
from tests.sockets import Peer, url_of

NODE_DIR = Path(__file__).resolve().parent.parent / "media_node"
SECRET = "reference-node-secret-" + "r" * 32


def _unavailable() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (NODE_DIR / "node_modules" / "mediasoup").exists():
        return "mediasoup is not installed in media_node/ (run `make media-node-install` or `make media-node-distro`)"
    if not (
        os.environ.get("MEDIASOUP_WORKER_BIN")
        or any((NODE_DIR / "node_modules" / "mediasoup").rglob("mediasoup-worker"))
    ):
        return "no mediasoup worker binary (set MEDIASOUP_WORKER_BIN, or `make media-node-distro` builds one)"
    return None


def _host_address() -> str | None:
    """This machine's own non-loopback address, if it has one: aiortc leaves loopback out of its
    ICE candidates, so the node must announce an address the client's candidates can reach."""
    import socket

    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("198.51.100.1", 9))  # no packet is sent: this only picks the outgoing interface
        address = str(probe.getsockname()[0])
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


def _no_webrtc_client() -> str | None:
    missing = [m for m in ("aiortc", "pymediasoup") if importlib.util.find_spec(m) is None]
    if missing:
        return f"{', '.join(missing)} not installed (the `media-test` extra)"
    return None if _host_address() else "no non-loopback network address for WebRTC (aiortc skips loopback)"


pytestmark = pytest.mark.skipif(_unavailable() is not None, reason=_unavailable() or "")


@pytest.fixture
async def node_engine(make_client: Any) -> AsyncIterator[Any]:
    """A test engine with the reference node registered on it (as node `ref-1`)."""
    client = await make_client(media_node_secrets=(SECRET,))
    env = {
        **os.environ,
        "ENGINE_URL": url_of(client),
        "MEDIA_NODE_SECRET": SECRET,
        "NODE_ID": "ref-1",
        "RTC_MIN_PORT": "41000",
        "RTC_MAX_PORT": "41199",
        "ANNOUNCED_IP": _host_address() or "127.0.0.1",
        "HEARTBEAT_SECONDS": "0.5",
    }
    proc = await asyncio.create_subprocess_exec("node", "index.js", cwd=NODE_DIR, env=env)
    try:
        svc = client.app[SERVICES]
        deadline = time.monotonic() + 15
        while await store.get_node(svc.redis, svc.keys, "ref-1") is None:
            assert proc.returncode is None, "the reference node exited"
            assert time.monotonic() < deadline, "the reference node did not register"
            await asyncio.sleep(0.05)
        yield client
    finally:
        proc.terminate()
        await proc.wait()


async def _user(client: Any) -> tuple[str, int, int]:
    user = await new_user(client)
    return user.token, user.id, user.room


async def test_reference_node_registers_and_creates_transports(node_engine: Any) -> None:
    client = node_engine
    node = await store.get_node(client.app[SERVICES].redis, client.app[SERVICES].keys, "ref-1")
    assert node is not None and node.rtp_capabilities["codecs"][0]["mimeType"] == "audio/opus"
    token, _, room_id = await _user(client)
    peer = await Peer().connect(url_of(client), token)
    try:
        joined = await join(peer, room_id)
        assert joined["rtpCapabilities"]["codecs"][0]["mimeType"] == "audio/opus"
        created = await peer.call("transport:create", {"roomId": room_id, "type": "consumer"})
        assert created["success"] is True, created
        assert created["data"]["dtlsParameters"]["fingerprints"] and created["data"]["iceCandidates"]
        missing = await peer.call(
            "transport:connect", {"roomId": room_id, "transportId": "nope", "dtlsParameters": {"fingerprints": []}}
        )
        assert missing == {"success": False, "error": "Transport not found"}
        consume = await peer.call(
            "audio:consume",
            {
                "roomId": room_id,
                "transportId": created["data"]["id"],
                "producerId": "nope",
                "rtpCapabilities": {"codecs": []},
            },
        )
        assert consume == {"success": False, "error": "Cannot consume"}

        # Another member cannot touch this user's transport by its id.
        other_token, _, _ = await _user(client)
        other = await Peer().connect(url_of(client), other_token)
        try:
            await join(other, room_id)
            theirs = {"roomId": room_id, "transportId": created["data"]["id"]}
            hijack = await other.call("transport:restartIce", theirs)
            assert hijack == {"success": False, "error": "Transport not found"}
            assert (await peer.call("transport:restartIce", theirs))["success"] is True
        finally:
            await other.close()
    finally:
        await peer.close()


async def _heartbeat_load(client: Any, expected: int, seconds: float = 10) -> None:
    svc = client.app[SERVICES]
    deadline = time.monotonic() + seconds
    while True:
        node = await store.get_node(svc.redis, svc.keys, "ref-1")
        if node is not None and node.load == expected:
            return
        assert time.monotonic() < deadline, f"the node's load stayed {node and node.load}, not {expected}"
        await asyncio.sleep(0.1)


async def test_a_dropped_node_registers_again_and_closes_the_released_rooms_routers(node_engine: Any) -> None:
    """The engine drops the node (as its sweep does a silent one): the room's clients are told to
    reconnect, the node's next heartbeat is refused, it registers again, and as the ack lists no
    rooms it closes the router it held (its load falls to 0)."""
    from engine.media.lost import lose_node

    client = node_engine
    svc = client.app[SERVICES]
    token, _, room_id = await _user(client)
    peer = await Peer().connect(url_of(client), token)
    try:
        assert (await join(peer, room_id))["rtpCapabilities"]
        assert (await peer.call("transport:create", {"roomId": room_id, "type": "consumer"}))["success"]
        await _heartbeat_load(client, 1)  # the room's router
        node = await store.get_node(svc.redis, svc.keys, "ref-1")
        assert node is not None
        assert await lose_node(client.app[REALTIME], "ref-1", node.sid, "silent") == [room_id]
        assert (await peer.wait_for("media:reconnect"))[0] == {"roomId": str(room_id), "reason": "node_lost"}
        deadline = time.monotonic() + 10
        while (registered := await store.get_node(svc.redis, svc.keys, "ref-1")) is None:
            assert time.monotonic() < deadline, "the node did not register again"
            await asyncio.sleep(0.05)
        # A registration starts at load 0: wait for heartbeats after it, which report the routers held.
        while (now := await store.get_node(svc.redis, svc.keys, "ref-1")) and now.seen_ms < registered.seen_ms + 1200:
            assert time.monotonic() < deadline, "no heartbeats after the registration"
            await asyncio.sleep(0.05)
        assert now is not None and now.load == 0
        again = await join(peer, room_id)  # placed afresh, on the same node
        assert again["rtpCapabilities"]["codecs"][0]["mimeType"] == "audio/opus"
        assert (await peer.call("transport:create", {"roomId": room_id, "type": "consumer"}))["success"]
        await _heartbeat_load(client, 1)
    finally:
        await peer.close()


async def _paused_on_node(client: Any, room_id: int, paused: bool) -> None:
    """Wait until the node has reported the room's one producer paused (or resumed)."""
    deadline = time.monotonic() + 5
    while (await node_events.existing_producers(client.app[REALTIME], room_id))[0]["paused"] is not paused:
        assert time.monotonic() < deadline, f"the node did not report paused={paused}"
        await asyncio.sleep(0.05)


def _tone_track() -> Any:
    """An aiortc audio track playing a loud 440 Hz tone in real time (well above the -55 dBov
    threshold of the node's audio-level observer)."""
    import av
    from aiortc import MediaStreamTrack

    class Tone(MediaStreamTrack):
        kind = "audio"

        def __init__(self) -> None:
            super().__init__()
            self.sent = 0
            self.start: float | None = None

        async def recv(self) -> Any:
            rate, samples = 48000, 960  # 20 ms frames
            if self.start is None:
                self.start = time.monotonic()
            delay = self.start + self.sent / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            pcm = array.array(
                "h", (int(20000 * math.sin(2 * math.pi * 440 * (self.sent + i) / rate)) for i in range(samples))
            )
            frame = av.AudioFrame(format="s16", layout="mono", samples=samples)
            frame.planes[0].update(pcm.tobytes())
            frame.sample_rate, frame.pts, frame.time_base = rate, self.sent, fractions.Fraction(1, rate)
            self.sent += samples
            return frame

    return Tone()


async def _transport(peer: Peer, device: Any, room_id: int, kind: str) -> Any:
    """Create a transport through the engine and wire pymediasoup's events to the engine's events."""
    created = await peer.call("transport:create", {"roomId": room_id, "type": kind})
    assert created["success"] is True, created
    data = {k: v for k, v in created["data"].items() if k != "iceServers"} | {"sctpParameters": None}
    transport = (device.createSendTransport if kind == "producer" else device.createRecvTransport)(**data)

    @transport.on("connect")
    async def on_connect(dtlsParameters: Any) -> None:
        answer = await peer.call(
            "transport:connect",
            {
                "roomId": room_id,
                "transportId": transport.id,
                "dtlsParameters": dtlsParameters.model_dump(exclude_none=True),
            },
        )
        assert answer["success"] is True, answer

    if kind == "producer":

        @transport.on("produce")
        async def on_produce(kind: str, rtpParameters: Any, appData: Any) -> str:
            answer = await peer.call(
                "audio:produce",
                {
                    "roomId": room_id,
                    "transportId": transport.id,
                    "kind": kind,
                    "rtpParameters": rtpParameters.model_dump(exclude_none=True),
                },
            )
            assert answer["success"] is True, answer
            return str(answer["data"]["id"])

    return transport


async def _loudest(track: Any, frames: int) -> int:
    """The largest sample among the next `frames` decoded frames of a received track."""
    loudest = 0
    for _ in range(frames):
        frame = await asyncio.wait_for(track.recv(), 5)
        assert frame.format.name == "s16", frame.format.name  # aiortc decodes Opus to 16-bit PCM
        loudest = max(loudest, max(abs(s) for s in array.array("h", bytes(frame.planes[0]))))
    return loudest


@pytest.mark.skipif(_no_webrtc_client() is not None, reason=_no_webrtc_client() or "")
async def test_audio_flows_from_a_seated_speaker_to_a_listener(node_engine: Any) -> None:
    from pymediasoup import AiortcHandler, Device
    from pymediasoup.rtp_parameters import RtpCapabilities, RtpParameters

    client = node_engine
    svc = client.app[SERVICES]
    owner_token, _, room_id = await _user(client)
    speaker_token, speaker_id, _ = await _user(client)
    listener, speaker = (
        await Peer().connect(url_of(client), owner_token),
        await Peer().connect(url_of(client), speaker_token),
    )
    tone = _tone_track()
    transports: list[Any] = []
    try:
        caps = RtpCapabilities(**(await join(listener, room_id))["rtpCapabilities"])
        await join(speaker, room_id)
        assert (await speaker.call("seat:take", {"roomId": room_id, "seatIndex": 2}))["success"]

        # The speaker sends the tone through its producer transport.
        speaker_device = Device(handlerFactory=AiortcHandler.createFactory(tracks=[tone]))
        await speaker_device.load(caps)
        send = await _transport(speaker, speaker_device, room_id, "producer")
        transports.append(send)
        producer = await send.produce(track=tone, stopTracks=False)
        announced = (await listener.wait_for("audio:newProducer"))[0]
        assert announced == {"producerId": producer.id, "userId": speaker_id, "kind": "audio", "source": "mic"}

        # The listener consumes it and hears it.
        listener_device = Device(handlerFactory=AiortcHandler.createFactory(tracks=[]))
        await listener_device.load(caps)
        recv = await _transport(listener, listener_device, room_id, "consumer")
        transports.append(recv)
        rtp_caps = listener_device.rtpCapabilities.model_dump(exclude_none=True)
        offer = await listener.call(
            "audio:consume",
            {"roomId": room_id, "transportId": recv.id, "producerId": producer.id, "rtpCapabilities": rtp_caps},
        )
        assert offer["success"] is True, offer
        assert offer["data"]["producerId"] == producer.id and offer["data"]["kind"] == "audio"
        consumer = await recv.consume(
            id=offer["data"]["id"],
            producerId=producer.id,
            kind="audio",
            rtpParameters=RtpParameters(**offer["data"]["rtpParameters"]),
        )
        assert (await listener.call("consumer:resume", {"roomId": room_id, "consumerId": consumer.id}))["success"]
        assert await _loudest(consumer.track, 50) > 2000  # a second of audio, not silence

        # The node's audio-level observer names the speaker.
        deadline = time.monotonic() + 10
        while not any(speaker_id in e["activeSpeakers"] for e in listener.events["speaker:active"]):
            assert time.monotonic() < deadline, listener.events["speaker:active"]
            await asyncio.sleep(0.1)

        # A moderator's mute pauses the producer on the node, which reports it back.
        assert (await listener.call("seat:mute", {"roomId": room_id, "userId": speaker_id}))["success"]
        await _paused_on_node(client, room_id, True)

        # Lifting the mute resumes it there.
        assert (await listener.call("seat:unmute", {"roomId": room_id, "userId": speaker_id}))["success"]
        await _paused_on_node(client, room_id, False)

        # A moderator's unmute does not turn on a mic its owner switched off.
        muted = await speaker.call("audio:selfMute", {"roomId": room_id, "producerId": producer.id})
        assert muted["success"] is True, muted
        await _paused_on_node(client, room_id, True)
        assert (await listener.call("seat:mute", {"roomId": room_id, "userId": speaker_id}))["success"]
        assert (await listener.call("seat:unmute", {"roomId": room_id, "userId": speaker_id}))["success"]
        await asyncio.sleep(1)  # a resume the node wrongly made would have been reported by now
        assert (await node_events.existing_producers(client.app[REALTIME], room_id))[0]["paused"] is True
        resumed = await speaker.call("audio:selfUnmute", {"roomId": room_id, "producerId": producer.id})
        assert resumed["success"] is True, resumed
        await _paused_on_node(client, room_id, False)

        # Leaving the seat closes the producer; listeners are told.
        assert (await speaker.call("seat:leave", {"roomId": room_id}))["success"]
        closed = (await listener.wait_for("audio:producerClosed"))[0]
        assert closed == {"producerId": producer.id, "userId": speaker_id}
        assert await node_events.existing_producers(client.app[REALTIME], room_id) == []

        # Leaving the room closes the speaker's transport on the node (reported back).
        assert await svc.redis.hget(svc.keys.room_transports(room_id), str(speaker_id)) == b"1"
        assert (await speaker.call("room:leave", {"roomId": room_id}))["success"]
        assert await svc.redis.hget(svc.keys.room_transports(room_id), str(speaker_id)) is None
    finally:
        for transport in transports:
            await transport.close()
        tone.stop()
        await listener.close()
        await speaker.close()
