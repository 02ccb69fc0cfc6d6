// Usage: node room_scenario.mjs <url> <tokenA> <tokenB> <roomId>
// A room scenario with the official socket.io-client over WebSocket: A and B connect and join the
// room, A takes seat 1, A then B send a chat message, B leaves the room. Prints one JSON object:
// {"acks": {step: ack}, "events": {"A": [{event, data}], "B": [...]}} with every event each socket
// received, in arrival order. Exit codes: 0 printed, 2 bad usage, 3 connect_error (prints
// {"connect_error": message, "who": "A"|"B"}), 4 overall timeout (10 s), 5 any other failure.
import { io } from "socket.io-client";

const [url, tokenA, tokenB, roomId] = process.argv.slice(2);
if (!url || !tokenA || !tokenB || !roomId) {
  console.error("usage: node room_scenario.mjs <url> <tokenA> <tokenB> <roomId>");
  process.exit(2);
}

const sockets = {};
const events = { A: [], B: [] };
const acks = {};
const waiters = [];

function finish(body, code) {
  clearTimeout(timer);
  for (const socket of Object.values(sockets)) socket.close();
  process.stdout.write(JSON.stringify(body) + "\n", () => process.exit(code));
}

const timer = setTimeout(() => {
  for (const socket of Object.values(sockets)) socket.close();
  console.error("timed out after 10 s; so far: " + JSON.stringify({ acks, events }));
  process.exit(4);
}, 10_000);

function connect(who, token) {
  return new Promise((resolve, reject) => {
    const socket = io(url, { transports: ["websocket"], auth: { token }, reconnection: false });
    sockets[who] = socket;
    socket.onAny((event, data) => {
      events[who].push({ event, data });
      for (const waiter of [...waiters]) waiter();
    });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => reject(Object.assign(err, { who })));
  });
}

// Resolves once `who` has received `count` events named `event` (the overall timer bounds the wait).
function received(who, event, count = 1) {
  return new Promise((resolve) => {
    const check = () => {
      if (events[who].filter((e) => e.event === event).length >= count) {
        waiters.splice(waiters.indexOf(check), 1);
        resolve();
      }
    };
    waiters.push(check);
    check();
  });
}

async function call(step, socket, event, payload) {
  acks[step] = await socket.timeout(5_000).emitWithAck(event, payload);
  return acks[step];
}

async function scenario() {
  const [a, b] = await Promise.all([connect("A", tokenA), connect("B", tokenB)]);
  await call("joinA", a, "room:join", { roomId });
  await call("joinB", b, "room:join", { roomId });
  await received("A", "room:userJoined");
  await call("takeA", a, "seat:take", { roomId, seatIndex: 1 });
  await received("B", "seat:updated");
  await call("chatA", a, "chat:message", { roomId, content: "hello from A" });
  await call("chatB", b, "chat:message", { roomId, content: "hello from B" });
  await Promise.all([received("A", "chat:message", 2), received("B", "chat:message", 2)]);
  await call("leaveB", b, "room:leave", { roomId });
  await received("A", "room:userLeft");
  finish({ acks, events }, 0);
}

scenario().catch((err) => {
  if (err && err.who) finish({ connect_error: err.message, who: err.who }, 3);
  else finish({ error: String(err && err.message ? err.message : err), acks, events }, 5);
});
