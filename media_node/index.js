// Reference FlyLive media node (docs/media-node-protocol.md).
//
// Connects to the engine's /media namespace with a service credential, registers, sends heartbeats,
// and serves the engine's media:request / media:command messages with mediasoup: one router per room
// (Opus only), WebRTC transports, producers and consumers, and an audio-level observer per router
// whose readings go back as speakers:active.
//
// Environment: ENGINE_URL (http://127.0.0.1:8080), MEDIA_NODE_SECRET (required), NODE_ID (hostname),
// NODE_REGION (default), NODE_CAPACITY (100), ANNOUNCED_IP (127.0.0.1), RTC_MIN_PORT/RTC_MAX_PORT
// (40000/40999), HEARTBEAT_SECONDS (5), MEDIASOUP_WORKER_BIN (optional: a prebuilt worker). Runs on mediasoup 3.12 and later.
import os from "node:os";
import * as mediasoup from "mediasoup";
import { io } from "socket.io-client";

const ENGINE_URL = process.env.ENGINE_URL || "http://127.0.0.1:8080";
const SECRET = process.env.MEDIA_NODE_SECRET;
const NODE_ID = process.env.NODE_ID || os.hostname();
const REGION = process.env.NODE_REGION || "default";
const CAPACITY = Number(process.env.NODE_CAPACITY || 100);
const ANNOUNCED_IP = process.env.ANNOUNCED_IP || "127.0.0.1";
const HEARTBEAT_MS = 1000 * Number(process.env.HEARTBEAT_SECONDS || 5);  // under the engine's stale time (15 s)
const MEDIA_CODECS = [
  { kind: "audio", mimeType: "audio/opus", clockRate: 48000, channels: 2,
    parameters: { useinbandfec: 1, usedtx: 0, minptime: 10, "sprop-stereo": 1 } },
];

// mediasoup 3.13 replaced `listenIps` with `listenInfos`; 3.12 is what a worker built from a Linux
// distribution's libraries gives (build-worker.sh), so both are spoken.
const [, MINOR] = mediasoup.version.split(".").map(Number);
const LISTEN = MINOR >= 13
  ? { listenInfos: [{ protocol: "udp", ip: "0.0.0.0", announcedAddress: ANNOUNCED_IP },
                    { protocol: "tcp", ip: "0.0.0.0", announcedAddress: ANNOUNCED_IP }] }
  : { listenIps: [{ ip: "0.0.0.0", announcedIp: ANNOUNCED_IP }], enableUdp: true, enableTcp: true, preferUdp: true };

if (!SECRET) {
  console.error("MEDIA_NODE_SECRET is required (one of the engine's MEDIA_NODE_SECRETS)");
  process.exit(2);
}

const worker = await mediasoup.createWorker({
  rtcMinPort: Number(process.env.RTC_MIN_PORT || 40000),
  rtcMaxPort: Number(process.env.RTC_MAX_PORT || 40999),
});
worker.on("died", () => { console.error("mediasoup worker died"); process.exit(1); });

const rooms = new Map();        // roomId -> { router, observer, transports: Map, producers: Map, consumers: Map }
let capabilities = null;        // the router capabilities clients load (identical for every router)

async function room(roomId) {
  let state = rooms.get(roomId);
  if (state) return state;
  const router = await worker.createRouter({ mediaCodecs: MEDIA_CODECS });
  const observer = await router.createAudioLevelObserver({ maxEntries: 16, threshold: -55, interval: 500 });
  state = { router, observer, transports: new Map(), producers: new Map(), consumers: new Map() };
  observer.on("volumes", (volumes) => report("speakers:active", {
    roomId, userIds: volumes.map((v) => v.producer.appData.userId) }));
  observer.on("silence", () => report("speakers:active", { roomId, userIds: [] }));
  rooms.set(roomId, state);
  return state;
}

function report(event, payload) {
  socket.emit(event, payload, () => {});
}

function describe(roomId, producer) {
  return { roomId, producerId: producer.id, userId: producer.appData.userId, source: producer.appData.source };
}

function closed(roomId, producer) {
  rooms.get(roomId)?.producers.delete(producer.id);
  report("producer:closed", describe(roomId, producer));
}

function closeProducer(roomId, producer) {
  producer.close();
  closed(roomId, producer);
}

const handlers = {
  async "transport:create"(r, req) {
    const t = await r.router.createWebRtcTransport({
      ...LISTEN, initialAvailableOutgoingBitrate: 128000, appData: { userId: req.userId },
    });
    await t.setMaxIncomingBitrate(256000).catch(() => {});
    r.transports.set(t.id, t);
    // A transport whose DTLS fails or closes is closed; the engine gives the user's allowance back.
    t.on("dtlsstatechange", (state) => { if (state === "failed" || state === "closed") t.close(); });
    t.observer.on("close", () => {
      r.transports.delete(t.id);
      report("transport:closed", { roomId: req.roomId, transportId: t.id, userId: req.userId });
    });
    return { id: t.id, iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters };
  },
  async "transport:connect"(r, req) {
    await transportOf(r, req).connect({ dtlsParameters: req.params.dtlsParameters });
    return {};
  },
  async "transport:restartIce"(r, req) {
    return { iceParameters: await transportOf(r, req).restartIce() };
  },
  async "audio:produce"(r, req) {
    const source = req.params.source || "mic";
    for (const p of r.producers.values()) {  // one producer per user and source: the new one replaces it
      if (p.appData.userId === req.userId && p.appData.source === source) closeProducer(req.roomId, p);
    }
    const producer = await transportOf(r, req).produce({
      kind: "audio", rtpParameters: req.params.rtpParameters, appData: { userId: req.userId, source } });
    r.producers.set(producer.id, producer);
    if (source === "mic") await r.observer.addProducer({ producerId: producer.id });
    producer.on("transportclose", () => closed(req.roomId, producer));  // its transport went first
    producer.observer.on("pause", () => report("producer:paused", describe(req.roomId, producer)));
    producer.observer.on("resume", () => report("producer:resumed", describe(req.roomId, producer)));
    report("producer:new", { roomId: req.roomId, producerId: producer.id, userId: req.userId, source });
    return { id: producer.id };
  },
  async "audio:consume"(r, req) {
    const { producerId, rtpCapabilities } = req.params;
    if (!r.router.canConsume({ producerId, rtpCapabilities })) throw new Error("Cannot consume");
    const consumer = await transportOf(r, req).consume({
      producerId, rtpCapabilities, paused: true, appData: { userId: req.userId } });
    r.consumers.set(consumer.id, consumer);
    consumer.observer.on("close", () => r.consumers.delete(consumer.id));
    return { id: consumer.id, producerId, kind: consumer.kind, rtpParameters: consumer.rtpParameters };
  },
  async "consumer:resume"(r, req) {
    const consumer = r.consumers.get(req.params.consumerId);
    if (!consumer || consumer.appData.userId !== req.userId) throw new Error("Consumer not found");
    await consumer.resume();
    return {};
  },
  async "producer:pause"(r, req) { await mute(ownProducer(r, req), "selfMuted", true); return {}; },
  async "producer:resume"(r, req) { await mute(ownProducer(r, req), "selfMuted", false); return {}; },
};

// A producer is paused while its user muted it (audio:selfMute) or a moderator muted their seat
// (pauseUser): lifting one leaves the other in force, so a moderator's unmute never turns on a mic
// its owner switched off.
async function mute(producer, why, on) {
  producer.appData[why] = on;
  const paused = Boolean(producer.appData.selfMuted || producer.appData.seatMuted);
  if (paused && !producer.paused) await producer.pause();
  if (!paused && producer.paused) await producer.resume();
}

function micsOf(r, userId) {
  return [...r.producers.values()].filter((p) => p.appData.userId === userId && p.appData.source === "mic");
}

// Ids travel through clients, so a user may only touch their own transports and consumers: another
// user's id answers as if it did not exist.
function transportOf(r, req) {
  const t = r.transports.get(req.params.transportId);
  if (!t || t.appData.userId !== req.userId) throw new Error("Transport not found");
  return t;
}

function ownProducer(r, req) {
  const p = r.producers.get(req.params.producerId);
  if (!p) throw new Error("Producer not found");
  if (p.appData.userId !== req.userId) throw new Error("Not your producer");
  return p;
}

const commands = {
  pauseUser: (r, cmd) => Promise.all(micsOf(r, cmd.userId).map((p) => mute(p, "seatMuted", true))),
  resumeUser: (r, cmd) => Promise.all(micsOf(r, cmd.userId).map((p) => mute(p, "seatMuted", false))),
  closeUserProducers: (r, cmd) => {
    for (const p of [...r.producers.values()]) if (p.appData.userId === cmd.userId) closeProducer(cmd.roomId, p);
  },
  closeUserTransports: (r, cmd) => {
    for (const t of [...r.transports.values()]) if (t.appData.userId === cmd.userId) t.close();
  },
  closeRouter: (r, cmd) => { r.router.close(); rooms.delete(cmd.roomId); },
};

const socket = io(`${ENGINE_URL}/media`, { auth: { token: SECRET }, transports: ["websocket"] });

async function register() {
  if (!capabilities) capabilities = (await room("__capabilities__")).router.rtpCapabilities;
  const ack = await socket.emitWithAck("node:register", {
    nodeId: NODE_ID, region: REGION, capacity: CAPACITY, rtpCapabilities: capabilities });
  // The engine lists the rooms it still has here; any other router belongs to a room it released
  // (this node was dropped and its clients told to reconnect): close it.
  const kept = new Set(ack?.rooms || []);
  for (const [roomId, r] of ack?.success ? rooms : []) {
    if (roomId !== "__capabilities__" && !kept.has(roomId)) { r.router.close(); rooms.delete(roomId); }
  }
  console.log(JSON.stringify({ msg: "registered", nodeId: NODE_ID, ack }));
}

socket.on("connect", register);
socket.on("connect_error", (err) => console.error(JSON.stringify({ msg: "connect_error", error: err.message })));

socket.on("media:request", async (req, answer) => {
  try {
    const handler = handlers[req.method];
    if (!handler) throw new Error(`Unknown method ${req.method}`);
    answer({ ok: true, data: await handler(await room(req.roomId), req) });
  } catch (err) {
    answer({ ok: false, error: err.message });
  }
});

socket.on("media:command", async (cmd) => {
  const r = rooms.get(cmd.roomId);
  try {
    if (r && commands[cmd.command]) await commands[cmd.command](r, cmd);
  } catch (err) {  // e.g. a producer closed while it was being paused: nothing left to do
    console.error(JSON.stringify({ msg: "command failed", command: cmd.command, error: err.message }));
  }
});

setInterval(async () => {
  if (!socket.connected) return;
  const ack = await socket.timeout(4000).emitWithAck("node:heartbeat", { load: Math.max(0, rooms.size - 1) })
    .catch(() => null);
  // The engine dropped this node (it looked silent, or the engine process holding it died): join again.
  if (ack && !ack.success && ack.error === "Not registered") await register();
}, HEARTBEAT_MS);
