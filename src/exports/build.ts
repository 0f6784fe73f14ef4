// Building an export's zip in the background: small JSON entries, then the messages as JSON lines and the
// files, each read a bounded page at a time in a unit of work of its own and streamed through the zip
// (yazl, deflating on libuv's threads) to a file, waiting whenever the disk is behind: memory stays a few
// pages whatever the size of the export. Then `export_ready` tells its owner where to fetch it, or
// `export_failed` that it will not come.
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ZipFile } from 'yazl';
import { limits } from '../../protocol/index.ts';
import type { App } from '../context.ts';
import type { FileStore } from '../files/store.ts';
import { logAndDeliver } from '../delivery/fanout.ts';
import type { Store } from '../storage/index.ts';
import type { ExportJob } from '../storage/stores/exports.ts';

/** Rows one unit of work reads at most. */
const page = 500;

/** Where exports' zips are kept: beside the files, so that every node of a cluster can serve them. */
export const exportsFolder = (filesDir: string) => join(filesDir, 'exports');
export const zipPath = (filesDir: string, id: string) => join(exportsFolder(filesDir), `${id}.zip`);

/** A file's name inside the zip: no folders of its own, nothing that climbs out. */
const entryName = (name: string) => name.replace(/[/\\\0]/g, '_').replace(/^\.+/, '_') || 'file';

const json = (value: unknown) => Buffer.from(`${JSON.stringify(value, null, 2)}\n`);

/** The JSON entries of a person's own export: profile, sessions, contacts. */
async function personal(store: Store, userId: number, now: number) {
  const user = (await store.users.byId(userId))!;
  const { username, fullname, bio, email, email_verified, created_at, last_online, status, status_text, role, notify_default, notify_reactions, who_may_add } = user;
  const contacts = [];
  for (let place = 0; ;) {
    const rows = await store.contacts.page(userId, place, page);
    contacts.push(...rows.map((row) => ({ username: row.username, fullname: row.fullname })));
    if (rows.length < page) break;
    place = rows.at(-1)!.place;
  }
  return {
    'profile.json': { username, fullname, bio, email, email_verified: email_verified === 1, created_at, last_online, status, status_text, role, notifications: notify_default, notify_reactions: notify_reactions === 1, who_may_add },
    'sessions.json': await store.sessions.list(userId, now),
    'contacts.json': contacts,
  };
}

/** How long a node's hold on an export it builds lasts, and how often it renews it while it works. */
export const exportLease = { seconds: 60, renewMs: 20_000 } as const;

/** What `export_failed` says. */
export const exportFailures = {
  failed: 'the export could not be built: ask again',
  interrupted: 'the export was interrupted too often: ask again',
} as const;

export type ExportBuilder = ReturnType<typeof exportBuilder>;

export function exportBuilder(app: App, files: FileStore) {
  const dir = exportsFolder(app.settings.FILES_DIR);
  mkdirSync(dir, { recursive: true, mode: 0o700 });

  let stopping = false;
  /** The zips being written: a server stopping cuts them off, and its builds end before it closes the database. */
  const writing = new Set<WriteStream>();
  const going = () => {
    if (stopping) throw new Error('the server is stopping');
  };

  async function build(job: ExportJob): Promise<number> {
    const of = job.conversationId === null ? { user: job.userId } : { conversation: job.conversationId };
    const zip = new ZipFile();
    const partial = `${zipPath(app.settings.FILES_DIR, job.id)}.part`;
    const out = createWriteStream(partial, { mode: 0o600 });
    zip.outputStream.pipe(out);
    const written = finished(out);
    // Cut off (the server stopping) while a page is read: the build's next await of it throws, not the process.
    written.catch(() => undefined);
    writing.add(out);
    try {
      going();
      const now = app.now();
      const head = await app.commit.run(async ({ store }) => ({
        'export.json': { kind: job.conversationId === null ? 'account' : 'conversation', requested_by: (await store.users.byId(job.userId))?.username, conversation_id: job.conversationId, made_at: now },
        ...(job.conversationId === null
          ? await personal(store, job.userId, now)
          : { 'members.json': (await store.conversations.members(job.conversationId)).map((member) => member.username) }),
      }));
      for (const [name, value] of Object.entries(head)) zip.addBuffer(json(value), name);

      // One message a line, written as the zip takes them.
      const lines = new PassThrough();
      zip.addReadStream(lines, 'messages.jsonl');
      for (let after = 0; ;) {
        const rows = await app.commit.run(({ store }) => store.exports.messages(of, after, page));
        going();
        const text = rows.map(({ attachments, ...row }) => JSON.stringify({ ...row, attachments: attachments ? attachments.split(' ') : [] })).join('\n');
        if (rows.length && !lines.write(`${text}\n`)) await Promise.race([once(lines, 'drain'), written]);
        if (rows.length < page) break;
        after = rows.at(-1)!.id;
      }
      lines.end();

      // Each file opened only when the zip comes to it.
      for (let after = ''; ;) {
        const rows = await app.commit.run(({ store }) => store.exports.files(of, after, page));
        going();
        for (const file of rows) {
          zip.addReadStreamLazy(`files/${file.id}/${entryName(file.name)}`, (done) => {
            files.get(file.key).then((stream) => done(null, stream ?? new PassThrough().end()), (error: unknown) => done(error, new PassThrough()));
          });
        }
        if (rows.length < page) break;
        after = rows.at(-1)!.id;
      }
      zip.end();
      await written;
    } catch (error) {
      out.destroy();
      await written.catch(() => undefined);
      throw error;
    } finally {
      writing.delete(out);
    }
    const final = zipPath(app.settings.FILES_DIR, job.id);
    await rename(partial, final);
    return (await stat(final)).size;
  }

  /** The builds under way on this node. */
  const building = new Map<string, Promise<void>>();

  /** Tells the owner an export will not come, and forgets it (they may ask again). */
  async function fail(job: ExportJob, reason: string): Promise<void> {
    await app.commit.run(async (unit) => {
      await unit.store.exports.remove(job.id);
      const scope = { store: unit.store, job: unit, now: app.now, registry: app.registry, ordering: app.ordering };
      await logAndDeliver(scope, 'export_failed', { export_id: job.id, reason }, { users: [job.userId] });
    });
    await rm(`${zipPath(app.settings.FILES_DIR, job.id)}.part`, { force: true });
  }

  return {
    /**
     * Builds the export (leased to this node: the lease is renewed while it works) and tells its owner;
     * a build that fails is logged and its owner told `export_failed`. One interrupted by this node's
     * stopping is left to the next round (src/exports/resume.ts).
     */
    build(job: ExportJob): Promise<void> {
      const renew = () => app.commit.run(({ store }) => store.exports.renew(job.id, app.now() + exportLease.seconds))
        .catch((error: unknown) => app.log.warn('export lease not renewed', { export: job.id, error: String(error) }));
      const timer = setInterval(() => void renew(), exportLease.renewMs);
      const done = buildAndTell(job).finally(() => {
        clearInterval(timer);
        building.delete(job.id);
      });
      building.set(job.id, done);
      return done;
    },
    fail,
    stopping: () => stopping,
    /** Stops building: the builds under way end at their next page and give up their leases, for the next start or another node. */
    async stop(): Promise<void> {
      stopping = true;
      for (const out of writing) out.destroy(new Error('the server is stopping'));
      const ids = [...building.keys()];
      await Promise.all(building.values());
      if (ids.length) await app.commit.run(({ store }) => store.exports.release(ids));
    },
  };

  async function buildAndTell(job: ExportJob): Promise<void> {
    const started = Date.now();
    try {
      const size = await build(job);
      await app.commit.run(async (unit) => {
        const { store } = unit;
        const now = app.now();
        const expiresAt = now + limits.exportHours * 3600;
        await store.exports.ready(job.id, now, size, expiresAt);
        const scope = { store, job: unit, now: app.now, registry: app.registry, ordering: app.ordering };
        await logAndDeliver(scope, 'export_ready', { export_id: job.id, url: `/exports/${job.id}`, size, expires_at: expiresAt }, { users: [job.userId] });
      });
      app.log.info('export ready', { export: job.id, user: job.userId, conversation: job.conversationId, size, ms: Date.now() - started });
    } catch (error) {
      if (stopping) return app.log.warn('export interrupted by the stop', { export: job.id });
      app.log.error('export failed', { export: job.id, error });
      await fail(job, exportFailures.failed).catch((failure: unknown) => app.log.error('export failure not told', { export: job.id, error: failure }));
    }
  }
}
