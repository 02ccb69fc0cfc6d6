// The Node socket.io 4.8 server loadtest/bench_realtime.py measures beside the engine: the same
// events as loadtest/stock_server.py, no auth, no persistence.
//   node loadtest/node/server.js PORT
"use strict";
const http = require("http");
const crypto = require("crypto");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || process.env.PORT || 3000);
const httpServer = http.createServer();
// socket.io's defaults otherwise (perMessageDeflate off, pings every 25 s), like the engine's.
const io = new Server(httpServer, { serveClient: false, cors: { origin: false } });

io.on("connection", (socket) => {
  let seq = 0;
  socket.on("room:join", (data, ack) => {
    socket.join(String(data.roomId));
    if (typeof ack === "function") ack({ success: true });
  });
  // The engine's chat:message broadcast, in shape and size: the whole room gets it, the sender too.
  socket.on("chat:message", (data, ack) => {
    const message = {
      id: crypto.randomUUID(), userId: 0, userName: socket.id, userAvatar: "",
      userFrameId: null, userChatBubbleId: null, content: data.content, type: data.type || "text",
      timestamp: Date.now(), seq: ++seq,
    };
    io.to(String(data.roomId)).emit("chat:message", message);
    if (typeof ack === "function") ack({ success: true });
  });
  socket.on("echo", (data, ack) => {
    if (typeof ack === "function") ack(data);
  });
  // The benchmark collects garbage before it reads RSS (node runs with --expose-gc).
  socket.on("bench:gc", (data, ack) => {
    if (global.gc) global.gc();
    if (typeof ack === "function") ack({ success: true });
  });
});

httpServer.listen(port, "127.0.0.1", () => console.log(`listening on ${port}`));
process.on("SIGINT", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));
