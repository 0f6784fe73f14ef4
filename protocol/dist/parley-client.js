// Parley client: one ES module, no dependencies. Generated from protocol/connect.ts by `npm run client:build`; do not edit.

// protocol/errors.ts
var closeCodes = {
  login_required: { code: 4001, reason: "login-token required", then: "refresh" },
  invalid_token: { code: 4002, reason: "invalid login-token", then: "refresh" },
  user_gone: { code: 4003, reason: "'{username}' doesn't exists", then: "signed_out" },
  too_many_sockets: { code: 4004, reason: "too many connections for this user (limit {limit})", then: "reconnect" },
  logged_out: { code: 4005, reason: "session logged out", then: "signed_out" },
  session_expired: { code: 4006, reason: "session expired: log in again", then: "signed_out" },
  password_changed: { code: 4008, reason: "password changed: log in again", then: "signed_out" },
  suspended: { code: 4009, reason: "account suspended", then: "signed_out" },
  refresh_reused: { code: 4010, reason: "session revoked: its refresh token was used twice", then: "signed_out" },
  flooding: { code: 1008, reason: "flooding: too many events over the rate limit", then: "reconnect" },
  early_flood: { code: 1008, reason: "too many frames before the login token was checked", then: "reconnect" },
  too_slow: { code: 4007, reason: "too slow: more than {limit} bytes waiting to be read; reconnect", then: "reconnect" },
  frame_too_large: { code: 1009, reason: "frame too large: the limit is {limit} bytes", then: "reconnect" },
  shutting_down: { code: 1001, reason: "server shutting down", then: "reconnect" }
};
function afterClose(code) {
  for (const close of Object.values(closeCodes)) if (close.code === code) return close.then;
  return "reconnect";
}

// protocol/auth.ts
function createCookieJar() {
  const cookies = /* @__PURE__ */ new Map();
  let tokenLifetime;
  return {
    header(path) {
      const sent = [...cookies].filter(([, cookie]) => path === cookie.path || path.startsWith(cookie.path.endsWith("/") ? cookie.path : `${cookie.path}/`));
      return sent.map(([name, cookie]) => `${name}=${cookie.value}`).join("; ");
    },
    take(lines) {
      for (const line of lines) {
        const [pair = "", ...attributes] = line.split(";").map((part) => part.trim());
        const equals = pair.indexOf("=");
        if (equals < 1) continue;
        const name = pair.slice(0, equals);
        const found = (key) => attributes.find((attribute) => attribute.toLowerCase().startsWith(`${key}=`))?.slice(key.length + 1);
        const maxAge = found("max-age");
        if (maxAge !== void 0 && Number(maxAge) <= 0) {
          cookies.delete(name);
          continue;
        }
        cookies.set(name, { value: pair.slice(equals + 1), path: found("path") ?? "/" });
        if (name === "login-token" && maxAge !== void 0) tokenLifetime = Number(maxAge);
      }
    },
    get tokenLifetime() {
      return tokenLifetime;
    }
  };
}
var AuthError = class extends Error {
  status;
  constructor(status, text) {
    super(text);
    this.name = "AuthError";
    this.status = status;
  }
};
async function post(url, path, jar, body) {
  const headers = body === void 0 ? {} : { "content-type": "application/json" };
  const cookie = jar?.header(path);
  if (cookie) headers.cookie = cookie;
  const response = await fetch(new URL(path, url), { method: "POST", credentials: "include", headers, body });
  jar?.take(response.headers.getSetCookie?.() ?? []);
  return response;
}
async function login(url, username, password, code) {
  const jar = createCookieJar();
  const response = await post(url, "/auth/login", jar, JSON.stringify(code === void 0 ? { username, password } : { username, password, code }));
  if (response.status !== 202) throw new AuthError(response.status, await response.text());
  return jar;
}
async function refreshLogin(url, jar) {
  const refresh = async () => {
    const response = await post(url, "/auth/refresh", jar);
    if (response.status !== 200) throw new AuthError(response.status, await response.text());
  };
  const locks = jar ? void 0 : globalThis.navigator?.locks;
  return locks ? locks.request(`parley-refresh ${new URL(url).origin}`, refresh) : refresh();
}

// protocol/client.ts
var RequestError = class extends Error {
  type;
  code;
  constructor(envelope) {
    super(envelope.error);
    this.name = "RequestError";
    this.type = envelope.type;
    this.code = envelope.code;
  }
};
var Disconnected = class extends Error {
  type;
  sent;
  constructor(type, sent, why) {
    super(sent ? `${type}: the connection was lost before the reply (${why}); it may or may not have been handled` : `${type}: not sent, ${why}`);
    this.name = "Disconnected";
    this.type = type;
    this.sent = sent;
  }
};
function createClient(socket, tap) {
  const pending = /* @__PURE__ */ new Map();
  const listeners = /* @__PURE__ */ new Map();
  let nextRef = 1;
  let closedWith;
  socket.addEventListener("error", () => {
  });
  const opened = new Promise((resolve, reject) => {
    socket.addEventListener("open", () => resolve());
    socket.addEventListener("close", (event) => reject(new Error(`socket closed before opening: ${event.code} ${event.reason}`)));
  });
  opened.catch(() => {
  });
  const closed = new Promise((resolve) => {
    socket.addEventListener("close", (event) => {
      closedWith = { code: event.code, reason: event.reason };
      for (const { reject } of pending.values()) reject(new Error(`socket closed: ${event.code} ${event.reason}`));
      pending.clear();
      resolve(closedWith);
    });
  });
  socket.addEventListener("message", (event) => {
    if (typeof event.data !== "string") return;
    const envelope = JSON.parse(event.data);
    tap?.(envelope);
    const waiting = envelope.ref === void 0 ? void 0 : pending.get(envelope.ref);
    if (waiting && envelope.ref !== void 0) {
      pending.delete(envelope.ref);
      waiting.resolve(envelope);
      return;
    }
    if (!envelope.success) return;
    for (const listener of listeners.get(envelope.type) ?? []) listener(envelope.data);
  });
  function call(frame) {
    if (closedWith) return Promise.reject(new Error(`socket closed: ${closedWith.code} ${closedWith.reason}`));
    const ref = nextRef++;
    return new Promise((resolve, reject) => {
      pending.set(ref, { resolve, reject });
      socket.send(JSON.stringify({ ...frame, ref }));
    });
  }
  return {
    opened,
    closed,
    call,
    async request(type, ...fields) {
      const envelope = await call({ ...fields[0], type });
      if (!envelope.success) throw new RequestError(envelope);
      return envelope.data;
    },
    on(type, listener) {
      let set = listeners.get(type);
      if (!set) listeners.set(type, set = /* @__PURE__ */ new Set());
      set.add(listener);
      return () => set.delete(listener);
    },
    close(code, reason) {
      socket.close(code, reason);
    }
  };
}

// protocol/stream.ts
function memoryStorage() {
  const values = /* @__PURE__ */ new Map();
  return { getItem: (key) => values.get(key) ?? null, setItem: (key, value) => void values.set(key, value) };
}
function createEventStream(storage) {
  const listeners = /* @__PURE__ */ new Map();
  let key;
  let lastSeq = 0;
  let holding = false;
  let held = [];
  function emit(type, data, seq) {
    for (const listener of listeners.get(type) ?? []) {
      try {
        listener(data, { seq });
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
  function advance(seq) {
    lastSeq = seq;
    storage.setItem(key, String(seq));
  }
  function deliver(envelope) {
    if (envelope.seq !== void 0) {
      if (envelope.seq <= lastSeq) return;
      advance(envelope.seq);
    }
    emit(envelope.type, envelope.data, envelope.seq);
  }
  return {
    on(type, listener) {
      let set = listeners.get(type);
      if (!set) listeners.set(type, set = /* @__PURE__ */ new Set());
      set.add(listener);
      return () => set.delete(listener);
    },
    /** A socket is opening: what it hears live waits until the catch-up is done. */
    hold() {
      holding = true;
      held = [];
    },
    /** The `seq` to sync from: the last delivered, read from storage for the user's first socket. */
    since(username) {
      if (key === void 0) {
        key = `parley:last-seq:${username}`;
        lastSeq = Number(storage.getItem(key) ?? 0) || 0;
      }
      return lastSeq;
    },
    /** One page of `sync`, oldest first. */
    synced(events) {
      for (const envelope of events) deliver(envelope);
    },
    /** `sync` answered `reset`: the events up to `next` are gone; the app reloads its state. */
    reset(next) {
      advance(next);
      emit("reset", { next }, void 0);
    },
    /** Caught up: what arrived live meanwhile follows, without what the sync already delivered. */
    caughtUp() {
      holding = false;
      const waiting = held;
      held = [];
      for (const envelope of waiting) deliver(envelope);
    },
    /** The socket is gone: what it held comes again from the next sync. */
    drop() {
      holding = false;
      held = [];
    },
    /** A live push, or a reply that carries an event's `seq`. */
    live(envelope) {
      if (holding) held.push(envelope);
      else deliver(envelope);
    }
  };
}

// protocol/connect.ts
var syncPage = 500;
var rateLimitedRetryMs = 1e3;
var renewalRetryMaxMs = 5e3;
function clientId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0")).join("");
}
function webSocketHere() {
  const here = globalThis.WebSocket;
  if (!here) throw new TypeError("connect: this runtime has no WebSocket; pass one as the WebSocket option (the 'ws' package's)");
  return here;
}
function connect(options) {
  const { url, cookies } = options;
  const WebSocketClass = options.WebSocket ?? webSocketHere();
  const socketUrl = new URL("/ws", url.replace(/^http/, "ws")).href;
  const { baseMs = 500, maxMs = 3e4 } = options.backoff ?? {};
  const { everyMs = 2e4, timeoutMs = 1e4 } = options.ping ?? {};
  const stream = createEventStream(options.storage ?? globalThis.localStorage ?? memoryStorage());
  const stateListeners = /* @__PURE__ */ new Set();
  const outbox = [];
  let state = { status: "connecting" };
  let socket;
  let raw;
  let generation = 0;
  let attempt = 0;
  let username;
  let lastHeard = 0;
  let pinged = false;
  let watchdog;
  let retry;
  let renewal;
  let refreshing;
  const ended = () => state.status === "signed_out" || state.status === "closed";
  function setState(next) {
    state = next;
    for (const listener of stateListeners) listener(next);
  }
  function open() {
    const mine = ++generation;
    if (state.status !== "connecting") setState({ status: "connecting" });
    const headers = cookies ? { headers: { cookie: cookies.header("/ws") } } : void 0;
    raw = new WebSocketClass(socketUrl, headers);
    const client = createClient(raw, (envelope) => {
      if (mine === generation) heard(envelope);
    });
    socket = client;
    stream.hold();
    lastHeard = performance.now();
    pinged = false;
    watch(mine);
    client.closed.then(({ code, reason }) => mine === generation && lost(code, reason));
    catchUp(client, mine).catch((error) => {
      if (error instanceof RequestError) abandon(client, error.message);
    });
  }
  async function catchUp(client, mine) {
    await client.opened;
    const self = await client.request("self");
    if (mine !== generation) return;
    if (username !== void 0 && self.username !== username) return end("signed_out", 4002, `the cookies now belong to '${self.username}'`);
    username = self.username;
    let since = stream.since(username);
    for (; ; ) {
      const page = await client.request("sync", { since, limit: syncPage });
      if (mine !== generation) return;
      if (page.reset) stream.reset(page.next);
      else stream.synced(page.events);
      since = page.next;
      if (!page.has_more) break;
    }
    stream.caughtUp();
    attempt = 0;
    for (const item of outbox) if (!item.sent) transmit(item, client);
    setState({ status: "open" });
  }
  function heard(envelope) {
    lastHeard = performance.now();
    pinged = false;
    if (envelope.success && envelope.seq !== void 0) return stream.live(envelope);
    if (envelope.ref !== void 0) return;
    if (envelope.success) return stream.live(envelope);
    abandon(socket, envelope.error);
  }
  function transmit(item, client) {
    item.sent = item.tried = true;
    const mine = generation;
    client.call(item.frame).then(
      (envelope) => {
        if (mine !== generation) return;
        if (!envelope.success && envelope.code === "rate_limited" && item.frame.type === "send_message") {
          item.sent = false;
          setTimeout(() => mine === generation && !item.sent && socket && transmit(item, socket), rateLimitedRetryMs);
          return;
        }
        remove(item);
        if (envelope.success) item.resolve(envelope.data);
        else item.reject(new RequestError(envelope));
      },
      () => {
      }
    );
  }
  function remove(item) {
    const index = outbox.indexOf(item);
    if (index >= 0) outbox.splice(index, 1);
  }
  function watch(mine) {
    clearTimeout(watchdog);
    if (mine !== generation) return;
    const quiet = performance.now() - lastHeard;
    const idle = state.status === "open" && !pinged;
    const limit = idle ? everyMs : timeoutMs;
    if (quiet < limit) {
      watchdog = setTimeout(() => watch(mine), limit - quiet);
      return;
    }
    if (!idle) return abandon(socket, `no answer within ${timeoutMs} ms`);
    pinged = true;
    lastHeard = performance.now();
    socket.request("ping").catch(() => {
    });
    watchdog = setTimeout(() => watch(mine), timeoutMs);
  }
  function abandon(client, why) {
    if (client !== socket) return;
    const given = raw;
    lost(1006, why);
    client.close(4e3, why.slice(0, 120));
    given.terminate?.();
  }
  function lost(code, reason) {
    generation++;
    socket = void 0;
    clearTimeout(watchdog);
    stream.drop();
    for (const item of [...outbox]) {
      if (!item.sent) continue;
      item.sent = false;
      if (item.frame.type === "send_message") continue;
      remove(item);
      item.reject(new Disconnected(item.frame.type, true, `${code} ${reason}`.trim()));
    }
    if (ended()) return;
    const then = afterClose(code);
    if (then === "signed_out") return end("signed_out", code, reason);
    if (then === "reconnect") return reconnect();
    refresh().then(reconnect, (error) => error instanceof AuthError && error.status === 401 ? end("signed_out", code, error.message) : reconnect());
  }
  function reconnect() {
    if (ended()) return;
    attempt++;
    const cap = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
    const wait = Math.round(cap / 2 + Math.random() * cap / 2);
    setState({ status: "reconnecting", attempt, in_ms: wait });
    retry = setTimeout(open, wait);
  }
  function refresh() {
    refreshing ??= refreshLogin(url, cookies).finally(() => refreshing = void 0);
    return refreshing.then(() => planRenewal());
  }
  const lifetimeMs = () => (cookies?.tokenLifetime ?? options.tokenLifetime ?? 3600) * 1e3;
  function planRenewal(inMs = lifetimeMs() * 0.75, failures = 0) {
    clearTimeout(renewal);
    if (ended()) return;
    renewal = setTimeout(() => {
      refresh().catch((error) => {
        if (error instanceof AuthError && error.status === 401) end("signed_out", 4002, error.message);
        else planRenewal(Math.min(lifetimeMs() / 10, 1e3 * 2 ** failures, renewalRetryMaxMs), failures + 1);
      });
    }, inMs);
  }
  function end(status, code, reason) {
    if (ended()) return;
    const client = socket;
    generation++;
    socket = void 0;
    for (const timer of [watchdog, retry, renewal]) clearTimeout(timer);
    stream.drop();
    setState(status === "closed" ? { status } : { status, code, reason });
    client?.close(1e3, "client closed");
    for (const item of outbox.splice(0)) item.reject(new Disconnected(item.frame.type, item.tried, status === "closed" ? "the client is closed" : `signed out: ${reason}`));
  }
  planRenewal();
  open();
  return {
    get state() {
      return state;
    },
    onState(listener) {
      stateListeners.add(listener);
      return () => stateListeners.delete(listener);
    },
    on: stream.on,
    request(type, ...fields) {
      const frame = { ...fields[0], type };
      if (type === "send_message" && frame.client_id == null) frame.client_id = clientId();
      return new Promise((resolve, reject) => {
        if (ended()) return reject(new Disconnected(type, false, `the client is ${state.status.replace("_", " ")}`));
        const item = { frame, sent: false, tried: false, resolve, reject };
        outbox.push(item);
        if (state.status === "open" && socket) transmit(item, socket);
      });
    },
    close() {
      end("closed", 1e3, "closed by the app");
    }
  };
}
export {
  AuthError,
  Disconnected,
  RequestError,
  afterClose,
  closeCodes,
  connect,
  createCookieJar,
  login,
  memoryStorage,
  refreshLogin
};
