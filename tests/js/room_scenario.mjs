// Usage: node room_scenario.mjs <url> <tokenA> <tokenB> <roomId>
// A room scenario with the official socket.io-client over WebSocket: A and B connect and join the
// room, A takes seat 1, A then B send a chat message, B leaves the room. Prints one JSON object:
// {"acks": {step: ack}, "events": {"A": [{event, data}], "B": [...]}} (exit codes: harness.mjs;
// 2 bad usage).
import { harness } from "./harness.mjs";

const [url, tokenA, tokenB, roomId] = process.argv.slice(2);
if (!url || !tokenA || !tokenB || !roomId) {
  console.error("usage: node room_scenario.mjs <url> <tokenA> <tokenB> <roomId>");
  process.exit(2);
}

const { connect, received, call, run } = harness(url, ["A", "B"]);

run(async () => {
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
});
