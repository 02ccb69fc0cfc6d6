// Usage: node media_scenario.mjs <url> <tokenA> <tokenB> <roomId>
// The mediasoup-client call order of realtime-contract §8.3 with the official socket.io-client (the
// test answers for the media node): A and B join, A takes seat 0, creates and connects a producer
// transport and produces; B hears audio:newProducer, creates and connects a consumer transport,
// consumes that producer and resumes; both hear speaker:active; A self-mutes and B hears
// seat:userMuted. Prints {"acks": {step: ack}, "events": {"A": [...], "B": [...]}} (exit codes:
// harness.mjs; 2 bad usage).
import { harness } from "./harness.mjs";

const [url, tokenA, tokenB, roomId] = process.argv.slice(2);
if (!url || !tokenA || !tokenB || !roomId) {
  console.error("usage: node media_scenario.mjs <url> <tokenA> <tokenB> <roomId>");
  process.exit(2);
}

const { connect, received, call, run, events } = harness(url, ["A", "B"]);
const dtlsParameters = { role: "client", fingerprints: [{ algorithm: "sha-256", value: "AB:CD" }] };

run(async () => {
  const [a, b] = await Promise.all([connect("A", tokenA), connect("B", tokenB)]);
  await call("joinA", a, "room:join", { roomId });
  await call("joinB", b, "room:join", { roomId });
  await call("takeA", a, "seat:take", { roomId, seatIndex: 0 });
  const sending = await call("sendTransport", a, "transport:create", { roomId, type: "producer" });
  await call("connectSend", a, "transport:connect", { roomId, transportId: sending.data.id, dtlsParameters });
  const rtpParameters = { codecs: [{ mimeType: "audio/opus", payloadType: 111, clockRate: 48000, channels: 2 }] };
  await call("produce", a, "audio:produce", { roomId, transportId: sending.data.id, kind: "audio", rtpParameters });

  await received("B", "audio:newProducer");
  const { producerId } = events.B.find((e) => e.event === "audio:newProducer").data;
  const receiving = await call("recvTransport", b, "transport:create", { roomId, type: "consumer" });
  await call("connectRecv", b, "transport:connect", { roomId, transportId: receiving.data.id, dtlsParameters });
  const rtpCapabilities = { codecs: [{ kind: "audio", mimeType: "audio/opus", clockRate: 48000, channels: 2 }] };
  const consumed = await call("consume", b, "audio:consume",
    { roomId, transportId: receiving.data.id, producerId, rtpCapabilities });
  await call("resume", b, "consumer:resume", { roomId, consumerId: consumed.data.id });
  await Promise.all([received("A", "speaker:active"), received("B", "speaker:active")]);
  await call("selfMute", a, "audio:selfMute", { roomId, producerId });
  await received("B", "seat:userMuted");
});
