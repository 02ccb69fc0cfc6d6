// Usage: node connect.mjs <url> <token>
// Connects with the official socket.io-client over WebSocket, calls "auth:whoami" with an ack and
// prints the ack as one JSON line. Exit codes: 0 ack printed, 2 bad usage, 3 connect_error
// (prints {"connect_error": message}), 4 overall timeout (10 s).
import { io } from "socket.io-client";

const [url, token] = process.argv.slice(2);
if (!url || token === undefined) {
  console.error("usage: node connect.mjs <url> <token>");
  process.exit(2);
}

const socket = io(url, { transports: ["websocket"], auth: { token }, reconnection: false });

function finish(line, code) {
  clearTimeout(timer);
  socket.close();
  process.stdout.write(JSON.stringify(line) + "\n", () => process.exit(code));
}

const timer = setTimeout(() => {
  socket.close();
  console.error("timed out after 10 s");
  process.exit(4);
}, 10_000);

socket.on("connect_error", (err) => finish({ connect_error: err.message }, 3));
socket.on("connect", () => {
  socket.emit("auth:whoami", {}, (ack) => finish(ack, 0));
});
