// The transport ceiling: a bare uWebSockets.js relay. No auth, no JSON parsing, no database: each
// frame is published to its pair's topic, so both clients get it, as Parley sends a reply and a push.
import { uWS, uwsBinary } from '../../src/transport/uws.ts';

type Data = { topic: string };

const app = uWS.App().ws<Data>('/ws', {
  maxPayloadLength: 64 * 1024,
  maxBackpressure: 1024 * 1024,
  idleTimeout: 120,
  upgrade(res, req, context) {
    const topic = `pair:${req.getQuery('pair')}`;
    res.upgrade<Data>({ topic }, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
  },
  open(ws) {
    ws.subscribe(ws.getUserData().topic);
  },
  message(ws, message) {
    app.publish(ws.getUserData().topic, message, false);
  },
});
app.listen('127.0.0.1', 0, (socket) => {
  if (!socket) throw new Error('relay could not listen');
  process.stdout.write(`${JSON.stringify({ msg: 'listening', port: uWS.us_socket_local_port(socket as never), uws: uwsBinary })}\n`);
});
