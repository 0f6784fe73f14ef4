// Assembles Parley: database, auth, registry, HTTP routes and the WebSocket endpoint on one uWebSockets.js app.
import type { us_listen_socket } from 'uWebSockets.js';
import { closeCodes } from '../protocol/index.ts';
import type { Settings } from './config.ts';
import type { Logger } from './log.ts';
import { assembleApp } from './app.ts';
import type { App } from './context.ts';
import { openStorage } from './storage/open.ts';
import { startReaders } from './reads/threads.ts';
import { inProcessReads } from './reads/table.ts';
import { createMailer } from './mail.ts';
import { createTokens, loadSecret } from './auth/tokens.ts';
import { secondFactorKeys } from './auth/second-factor.ts';
import { createPasswords } from './auth/passwords.ts';
import { authRoutes } from './auth/routes.ts';
import { oidcRoutes } from './auth/oidc.ts';
import { serveHttp } from './transport/http.ts';
import { serveWebSocket } from './transport/websocket.ts';
import { createMetrics, uncountedMetrics } from './metrics.ts';
import { operationRoutes } from './operations.ts';
import { uWS, uwsBinary } from './transport/uws.ts';
import { listenFailure } from './transport/listen.ts';
import { createPush } from './push/service.ts';
import { pushRoutes } from './push/routes.ts';
import { hookRoutes } from './hooks/routes.ts';
import type { Connection } from './connection.ts';
import { openDiskStore, temporaryFolder } from './files/store.ts';
import { fileRoutes, uploadRoute } from './files/routes.ts';
import { freeSpace } from './files/space.ts';
import { dirname } from 'node:path';
import { fileRecords } from './files/records.ts';
import { startFileSweep } from './files/sweep.ts';
import { checkSharedFolder } from './files/shared-folder.ts';
// A node of a cluster loads its parts (ioredis among them) when REDIS_URL asks for them: a server alone never does.
import type { ClusterNode } from './node.ts';
import { everyPeriod } from './periodic.ts';
import { startRetention } from './expire-messages.ts';
import { exportBuilder, type ExportBuilder } from './exports/build.ts';
import { startExportResume } from './exports/resume.ts';
import { exportRoutes } from './exports/routes.ts';
import { startExportSweep } from './exports/sweep.ts';

export type Server = {
  readonly port: number;
  /** From now on /readyz answers 503, so a load balancer sends no new clients; everything else still works. */
  drain(): void;
  close(): Promise<void>;
};

export async function startServer(settings: Settings, log: Logger): Promise<Server> {
  const storage = await openStorage(settings, log, {
    sqlite: (path) => startReaders(path, settings.SQLITE_READERS, log),
    postgres: (store) => inProcessReads(store),
  });
  let files;
  try {
    files = openDiskStore(settings.FILES_DIR);
  } catch (error) {
    await storage.close();
    throw error;
  }
  const { store } = storage;
  const server = uWS.App();
  // Several nodes (REDIS_URL; DATABASE_URL too, settings check): joined before the app is assembled around it.
  let app: App | undefined;
  let node: ClusterNode | undefined;
  if (settings.REDIS_URL && settings.DATABASE_URL) {
    try {
      await checkSharedFolder(settings.FILES_DIR, store);
      const { joinCluster } = await import('./node.ts');
      node = await joinCluster({ ...settings, REDIS_URL: settings.REDIS_URL, DATABASE_URL: settings.DATABASE_URL }, log, () => app, await store.probe.identity());
    } catch (error) {
      await storage.close();
      throw error;
    }
  }
  const metrics = settings.METRICS_TOKEN ? createMetrics(await import('prom-client')) : uncountedMetrics();
  metrics.collectProcess();
  const push = createPush(settings, log);
  const jwtSecret = loadSecret(settings.JWTSECRET, settings.DBPATH, log);
  // Built once the app is: a request can only come after the server listens.
  let exportsBuilt: ExportBuilder | undefined;
  app = assembleApp({
    settings,
    log,
    metrics,
    store,
    reads: storage.reads,
    publish: (topic, text) => server.publish(topic, text, false),
    subscribers: (topic) => server.numSubscribers(topic),
    mail: createMailer(settings, log, metrics),
    push,
    tokens: createTokens(jwtSecret, store, settings.LOGIN_TOKEN_SECONDS),
    secondFactor: secondFactorKeys(jwtSecret),
    exports: { build: (job) => void exportsBuilt?.build(job) },
    passwords: await createPasswords(settings.PASSWORD_HASHES_AT_ONCE),
    now: () => Math.floor(Date.now() / 1000),
    ...(node ? { ordering: node.sequencer, cluster: node.seam, guard: node.guard } : {}),
  });
  try {
    await node?.follow(app, storage.ca);
  } catch (error) {
    await node?.close();
    await storage.close();
    throw error;
  }
  exportsBuilt = exportBuilder(app, files);
  push.start(store, app.commit);
  metrics.watch({ pushQueue: () => store.outbox.pending() });
  let draining = false;
  serveWebSocket(server, app);
  // Uploads leave FREE_SPACE_RESERVE_BYTES free where the files are and where SQLite writes (PostgreSQL's disk is not this machine's).
  const uploadSpace = freeSpace([settings.FILES_DIR, ...(settings.DATABASE_URL ? [] : [dirname(settings.DBPATH)])], settings.FREE_SPACE_RESERVE_BYTES, log);
  const records = fileRecords(app);
  const fileParts = { store: files, scratchDir: temporaryFolder(settings.FILES_DIR), maxBytes: settings.MAX_UPLOAD_BYTES, unstripped: settings.UNSTRIPPED_IMAGES, space: uploadSpace, log };
  serveHttp(server, app, {
    ...authRoutes(app),
    ...oidcRoutes(app),
    ...operationRoutes(app, () => draining),
    ...pushRoutes(app),
    ...hookRoutes(app, (uploadsAs) => uploadRoute({ ...fileParts, records: records.uploadingAs(uploadsAs) })),
    ...exportRoutes(app),
    ...fileRoutes({ ...fileParts, records }),
    '/ws': { GET: () => ({ status: 426, body: 'this route takes WebSocket upgrades only', headers: [['Upgrade', 'websocket']] }) },
  });

  // Exclusive: by default uSockets sets SO_REUSEPORT, and a second server on the same port would
  // silently share its connections. The typings lack this (host, port, options) form; the binary has it.
  const exclusivePort = 1; // LIBUS_LISTEN_EXCLUSIVE_PORT, also missing from the typings
  const listener = server as unknown as { listen(host: string, port: number, options: number, done: (socket: us_listen_socket | false) => void): void };
  // A socket lives only while its token does: within a second of expiry it is closed with a reason.
  // This node's own sockets: every node of a cluster sweeps its own.
  const expirySweep = setInterval(() => {
    const { code, reason } = closeCodes.session_expired;
    const now = app.now();
    const closed = app.registry.closeWhere((connection) => connection.expiresAt <= now, code, reason);
    if (closed.length) log.info('closed sockets of expired sessions', { sockets: closed.length });
  }, 1000);
  expirySweep.unref();
  // The event log keeps EVENT_LOG_DAYS; a client that syncs from before that is told to reload.
  // Code mails and wrong codes are counted over the last hour: a day of them is plenty.
  // Shared data: one node of a cluster prunes an hour (src/periodic.ts).
  const pruning = everyPeriod(app, 'prune', 3_600_000, async () => {
    const through = await app.commit.run(async ({ store }) => {
      await store.codes.prune(app.now() - 86_400);
      await store.devices.pruneEnded(app.now());
      await store.oidc.prune(app.now());
      return store.events.pruneBefore(app.now() - settings.EVENT_LOG_DAYS * 86_400);
    });
    if (through) log.info('pruned the event log', { through });
  });
  await pruning.first;
  const fileSweep = startFileSweep(app, files);
  const retention = startRetention(app);
  const exportSweep = startExportSweep(app);
  const exportResume = await startExportResume(app, exportsBuilt);
  // New messages enter SQLite's search index a second's worth at a time (a search catches up first).
  // PostgreSQL keeps its index in the message row, with nothing to run: a cluster has no such round.
  const indexTimer = store.driver.engine === 'sqlite' ? setInterval(() => app.commit.run((job) => job.store.search.catchUp()).catch((error: unknown) => log.error('search indexing failed', { error })), 1000) : undefined;
  indexTimer?.unref();
  const tooSlow = closeCodes.too_slow.reason.replace('{limit}', String(settings.MAX_BACKPRESSURE));
  // This node's own sockets, like the expiry sweep.
  const slowSweep = setInterval(() => {
    const slow = (connection: Connection) => connection.buffered() > settings.MAX_BACKPRESSURE;
    for (const { user } of app.registry.closeWhere(slow, closeCodes.too_slow.code, tooSlow)) {
      log.warn('closed a socket that reads too slowly', { user: user.username, limit: settings.MAX_BACKPRESSURE });
      app.metrics.slowConsumerClosed();
    }
  }, 250);
  slowSweep.unref();

  const listenSocket = await new Promise<us_listen_socket | false>((resolve) =>
    listener.listen(settings.HOST, settings.PORT, exclusivePort, resolve),
  );
  /** Stops the timers and periodic rounds (what they queued still commits: flush the commit after). */
  function stopWork(): void {
    clearInterval(expirySweep);
    pruning.stop();
    clearInterval(slowSweep);
    clearInterval(indexTimer);
    fileSweep.stop();
    retention.stop();
    exportSweep.stop();
    exportResume.stop();
  }
  if (!listenSocket) {
    // The rounds at start may be in a transaction still: it ends before the database closes.
    stopWork();
    await exportsBuilt.stop();
    await app.commit.flush();
    await push.stop();
    await node?.close();
    await storage.close();
    throw new Error(await listenFailure(settings.HOST, settings.PORT));
  }
  const port = uWS.us_socket_local_port(listenSocket as never);
  log.info('listening', { host: settings.HOST, port, pid: process.pid, ...storage.described, uws: uwsBinary, node: process.version });
  if (uwsBinary !== 'native') log.warn('uWebSockets.js runs its slow JavaScript fallback: the native binary did not load');

  return {
    port,
    drain() {
      draining = true;
    },
    async close() {
      stopWork();
      await exportsBuilt.stop();
      uWS.us_listen_socket_close(listenSocket);
      app.typing.clear();
      await app.receipts.flush();
      await app.commit.flush(); // what is in flight is committed and answered before the sockets close
      await push.stop(); // after the flush: what was just committed has been handed to the worker
      app.commands.close();
      app.registry.closeWhere(() => true, closeCodes.shutting_down.code, closeCodes.shutting_down.reason);
      await new Promise((resolve) => setImmediate(resolve)); // the close handlers' presence changes are queued
      await app.commit.flush();
      await node?.close();
      await storage.close();
      log.info('stopped');
    },
  };
}
