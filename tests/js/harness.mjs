// Shared by the scenario scripts: sockets of the official socket.io-client named "A", "B", …, every
// event each receives (in arrival order), every ack, and one JSON line printed at the end.
// Exit codes: 0 printed, 3 connect_error (prints {"connect_error": message, "who": name}), 4 overall
// timeout (10 s), 5 any other failure.
import { io } from "socket.io-client";

export function harness(url, names) {
  const sockets = {};
  const events = Object.fromEntries(names.map((name) => [name, []]));
  const acks = {};
  const waiters = [];

  const timer = setTimeout(() => {
    for (const socket of Object.values(sockets)) socket.close();
    console.error("timed out after 10 s; so far: " + JSON.stringify({ acks, events }));
    process.exit(4);
  }, 10_000);

  function finish(body, code) {
    clearTimeout(timer);
    for (const socket of Object.values(sockets)) socket.close();
    process.stdout.write(JSON.stringify(body) + "\n", () => process.exit(code));
  }

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

  function run(scenario) {
    scenario()
      .then(() => finish({ acks, events }, 0))
      .catch((err) => {
        if (err && err.who) finish({ connect_error: err.message, who: err.who }, 3);
        else finish({ error: String(err && err.message ? err.message : err), acks, events }, 5);
      });
  }

  return { connect, received, call, run, events };
}
