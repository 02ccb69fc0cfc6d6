"""Wire compatibility of the media events with the official socket.io-client (tests/js/media_scenario.mjs).

The script makes mediasoup-client's calls in the contract's order; a node double on `/media`
(tests/test_media_nodes.py) answers them with mediasoup's shapes and reports the producer and the
active speaker as a node does.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from engine.messages import decode_event
from tests.helpers import new_user
from tests.sockets import url_of
from tests.test_js_rooms import JS_DIR, named, node_or_skip, run_scenario
from tests.test_media_nodes import CAPS, SECRET, NodeDouble, registration_of

SCENARIO = JS_DIR / "media_scenario.mjs"


class AnsweringNode(NodeDouble):
    """Answers media requests as a mediasoup node would, and reports what a node reports."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []
        self.reports: list[asyncio.Task[Any]] = []
        self.sio.on("media:request", self.on_request, namespace="/media")

    def report_soon(self, event: str, data: dict[str, Any]) -> None:
        """Like a node: the report follows the answer."""

        async def send() -> Any:
            await asyncio.sleep(0.05)
            return await self.call(event, data)

        self.reports.append(asyncio.create_task(send()))

    async def on_request(self, req: dict[str, Any]) -> dict[str, Any]:
        self.requests.append(req)
        method, params, room = req["method"], req["params"], req["roomId"]
        if method == "transport:create":
            return {"ok": True, "data": {
                "id": str(uuid.uuid4()),
                "iceParameters": {"usernameFragment": "u", "password": "p", "iceLite": True},
                "iceCandidates": [{"foundation": "udpcandidate", "ip": "127.0.0.1", "port": 40000,
                                   "priority": 1076302079, "protocol": "udp", "type": "host"}],
                "dtlsParameters": {"role": "auto", "fingerprints": [{"algorithm": "sha-256", "value": "EF:01"}]},
            }}  # fmt: skip
        if method == "audio:produce":
            producer = str(uuid.uuid4())
            self.report_soon("producer:new", {"roomId": room, "producerId": producer, "userId": req["userId"],
                                              "source": params["source"]})  # fmt: skip
            self.report_soon("speakers:active", {"roomId": room, "userIds": [req["userId"]]})
            return {"ok": True, "data": {"id": producer}}
        if method == "audio:consume":
            rtp = {"codecs": [{"mimeType": "audio/opus", "payloadType": 100, "clockRate": 48000, "channels": 2}],
                   "encodings": [{"ssrc": 1234}]}  # fmt: skip
            return {"ok": True, "data": {"id": str(uuid.uuid4()), "producerId": params["producerId"], "kind": "audio",
                                         "rtpParameters": rtp}}  # fmt: skip
        if method == "producer:pause":
            self.report_soon("producer:paused", {"roomId": room, "producerId": params["producerId"],
                                                 "userId": req["userId"], "source": "mic"})  # fmt: skip
        return {"ok": True, "data": {}}


async def test_media_scenario_with_the_official_client(make_client: Any) -> None:
    node_bin = node_or_skip()
    client = await make_client(media_node_secrets=(SECRET,))
    alice, bob = await new_user(client), await new_user(client)
    node = AnsweringNode()
    try:
        await node.connect(url_of(client), SECRET)
        assert (await node.call("node:register", registration_of("js-1")))["success"]
        code, out, err = await run_scenario(node_bin, url_of(client), alice.token, bob.token, str(alice.room),
                                            script=SCENARIO)  # fmt: skip
        assert code == 0, (code, out, err)
        answers = await asyncio.gather(*node.reports)
        assert len(answers) == 3 and all(answer["success"] for answer in answers), answers
    finally:
        await node.close()
    acks, events = out["acks"], out["events"]

    assert acks["joinA"]["rtpCapabilities"] == CAPS and acks["joinA"]["existingProducers"] == []
    assert all(ack["success"] is True for ack in acks.values()), acks
    sending, receiving = acks["sendTransport"]["data"], acks["recvTransport"]["data"]
    for transport in (sending, receiving):  # what mediasoup-client's createSend/RecvTransport needs
        assert {"id", "iceParameters", "iceCandidates", "dtlsParameters", "iceServers"} <= set(transport)
    produced = acks["produce"]["data"]["id"]
    assert acks["consume"]["data"]["producerId"] == produced and acks["consume"]["data"]["kind"] == "audio"
    methods = [r["method"] for r in node.requests]
    assert methods == ["transport:create", "transport:connect", "audio:produce", "transport:create",
                       "transport:connect", "audio:consume", "consumer:resume", "producer:pause"]  # fmt: skip
    assert {r["userId"] for r in node.requests[:3]} == {alice.id} and node.requests[3]["userId"] == bob.id

    assert named(events["B"], "audio:newProducer") == [
        {"producerId": produced, "userId": alice.id, "kind": "audio", "source": "mic"}
    ]
    for who in ("A", "B"):
        assert named(events[who], "speaker:active")[0]["activeSpeakers"] == [alice.id]
    muted = [m for m in named(events["B"], "seat:userMuted") if m.get("selfMuted")]
    assert [(m["userId"], m["isMuted"]) for m in muted] == [(alice.id, True)] and muted[0]["seq"] > 0
    for who in ("A", "B"):
        for event in events[who]:
            decode_event(event["event"], event["data"])  # raises when a payload breaks its schema
