// The database's side of the file routes: who is uploading (the login cookie, or a webhook's URL), how many uploads they
// may make (per hour, at once, the bytes of their quota, and the unattached bytes of their address and
// of the server), recording an upload, and who may download a file.
import { randomBytes } from 'node:crypto';
import type { App } from '../context.ts';
import type { RequestHead, Response } from '../transport/http.ts';
import { presentedToken, verifyPresented } from '../auth/bot-tokens.ts';
import { secondsText } from '../auth/attempts.ts';
import type { UserRow } from '../storage/index.ts';
import type { FileRow } from '../storage/stores/files.ts';
import type { Release } from '../throttle.ts';
import type { FileRecords } from './routes.ts';
import type { StoredFile } from './upload.ts';

/** Who is uploading; `release` gives back their hold on an upload under way. */
export type Uploader = { readonly id: number; readonly username: string; readonly ip: string; readonly release: Release };

/**
 * Uploads one person may have under way at once (each holds a socket, a temporary file and, for an
 * image, up to a couple of seconds of a core), and one address (several people behind one NAT);
 * counted over every node of a cluster.
 */
export const uploadsAtOnce = { user: 3, address: 12 } as const;
/** An address may make this many times UPLOADS_PER_HOUR (several people behind one NAT), as logins allow across accounts. */
const addressFactor = 4;
/** What a multipart body may hold besides the file (boundaries, part headers) for the early quota check. */
const multipartOverhead = 64 * 1024;

const idPattern = /^[0-9a-f]{32}$/;
const text = (status: number, body: string): Response => ({ status, body });

function tooMany(waitMs: number, what: string): Response {
  return { status: 429, body: `${what}: retry in ${secondsText(waitMs)}`, headers: [['Retry-After', String(Math.ceil(waitMs / 1000))]] };
}

const overQuota = (used: number, quota: number): Response =>
  text(413, `upload quota exceeded: ${Math.max(0, quota - used)} of your ${quota} bytes are left (UPLOAD_QUOTA_BYTES); delete messages with files to make room`);
const addressFull = (held: number, limit: number): Response =>
  text(413, `unattached uploads from your address are at their limit: ${Math.max(0, limit - held)} of its ${limit} bytes are left (UNATTACHED_BYTES_PER_ADDRESS); attach the files already uploaded to a message, or wait until unattached ones are removed`);
const serverFull: Response = text(507, 'the server holds as many unattached uploads as it may (UNATTACHED_BYTES_TOTAL): try again later, when older ones have been removed');

/**
 * Why `incoming` more bytes from `address` may not be kept unattached: its own bound, then the
 * server's (accounts are cheap, so the quota alone lets one address fill the disk).
 */
function unattachedRefusal(held: { address: number; total: number }, incoming: number, settings: App['settings']): Response | undefined {
  const perAddress = settings.UNATTACHED_BYTES_PER_ADDRESS;
  if (held.address >= perAddress || held.address + incoming > perAddress) return addressFull(held.address, perAddress);
  if (held.total >= settings.UNATTACHED_BYTES_TOTAL || held.total + incoming > settings.UNATTACHED_BYTES_TOTAL) return serverFull;
  return undefined;
}

/** A file record as the routes serve it. */
export function storedFile(row: FileRow): StoredFile {
  return {
    key: row.key, name: row.name, size: row.size, type: row.type, sha256: row.sha256,
    ...(row.width === null || row.height === null ? {} : { width: row.width, height: row.height }),
    ...(row.thumbnail_key === null
      ? {}
      : { thumbnail: { key: row.thumbnail_key, sha256: row.thumbnail_sha256!, size: row.thumbnail_size!, width: row.thumbnail_width!, height: row.thumbnail_height! } }),
  };
}

/** The signed-in user a request's cookie (or a bot's `Authorization: Bearer` token) names, as the WebSocket accepts it; or why not. */
export async function signedIn(app: Parameters<typeof verifyPresented>[0] & Pick<App, 'log' | 'now'>, request: RequestHead): Promise<{ user: UserRow } | { refuse: Response }> {
  const token = presentedToken(request.authorization, request.cookie);
  if (!token) return { refuse: text(401, 'login-token required') };
  const verified = await verifyPresented(app, token, app.now());
  if (!verified.ok) {
    app.log.warn('token refused', { route: request.path, problem: verified.problem, ip: request.ip });
    return { refuse: text(401, 'invalid login-token') };
  }
  if (verified.user.account_status === 'suspended') return { refuse: text(403, 'account suspended') };
  return { user: verified.user };
}

/** Who a request uploads as (an account), or why it may not: `signedIn` for POST /files, a webhook's URL for its own. */
export type UploadsAs = (request: RequestHead) => Promise<{ user: { id: number; username: string } } | { refuse: Response }>;

/**
 * The records of uploads made as the signed-in user; `uploadingAs` gives those of uploads made as the
 * accounts another `UploadsAs` names (a webhook's URL), under the same windows and holds, made once for
 * the server. Each account's windows, holds and quota are its own (a webhook's account has its own,
 * apart from its creator's).
 */
export function fileRecords(app: App): FileRecords<Uploader> & { uploadingAs(uploadsAs: UploadsAs): FileRecords<Uploader> } {
  const { settings, store } = app;
  // Held across the nodes of a cluster, so that spreading uploads over nodes gets no more.
  const perUser = app.cluster.window('uploads', settings.UPLOADS_PER_HOUR, 3600_000);
  const perAddress = app.cluster.window('upload-addresses', settings.UPLOADS_PER_HOUR * addressFactor, 3600_000);
  const underWay = app.cluster.hold('uploads');

  /** Past the hold on an upload under way: the hourly windows (counted before anything is read, so a refused upload costs the server nothing more), then the quota. */
  async function admit(userId: number, ip: string, request: RequestHead): Promise<Response | undefined> {
    const wait = Math.max(...(await Promise.all([perUser(String(userId)), perAddress(ip)])));
    if (wait > 0) {
      app.metrics.refused('upload');
      return tooMany(wait, 'too many uploads');
    }
    const used = await store.files.used(userId);
    const multipart = /^multipart\/form-data\b/i.test(request.headers['content-type'] ?? '');
    const declared = Number(request.headers['content-length'] ?? 0) - (multipart ? multipartOverhead : 0);
    if (used >= settings.UPLOAD_QUOTA_BYTES || used + declared > settings.UPLOAD_QUOTA_BYTES) return overQuota(used, settings.UPLOAD_QUOTA_BYTES);
    return unattachedRefusal(await store.files.unattached(ip), declared, settings);
  }

  const recordsOf = (uploadsAs: UploadsAs): FileRecords<Uploader> => ({
    async authorizeUpload(request) {
      const signed = await uploadsAs(request);
      if ('refuse' in signed) return signed;
      const { user } = signed;
      const { ip } = request;
      const release = await underWay([{ key: `user:${user.id}`, limit: uploadsAtOnce.user }, { key: `address:${ip}`, limit: uploadsAtOnce.address }]);
      if (!release) {
        app.metrics.refused('upload');
        return { refuse: { ...text(429, 'too many uploads at once: wait for one to finish'), headers: [['Retry-After', '1']] } };
      }
      const refusal = await admit(user.id, ip, request).catch((error: unknown) => {
        release();
        throw error;
      });
      if (refusal) {
        release();
        return { refuse: refusal };
      }
      return { uploader: { id: user.id, username: user.username, ip, release } };
    },
    async recordUpload(uploader, file) {
      const id = randomBytes(16).toString('hex');
      const refusal = await app.commit.run(async ({ store }) => {
        // Counted one upload at a time: two uploads finishing together cannot both fit in what is left.
        await store.files.lockUnattached();
        if (!(await store.files.lockUploader(uploader.id))) return text(401, 'invalid login-token');
        const used = await store.files.used(uploader.id);
        if (used + file.size > settings.UPLOAD_QUOTA_BYTES) return overQuota(used, settings.UPLOAD_QUOTA_BYTES);
        const full = unattachedRefusal(await store.files.unattached(uploader.ip), file.size, settings);
        if (full) return full;
        await store.files.insert({ id, uploaderId: uploader.id, address: uploader.ip, ...file, now: app.now() });
        return undefined;
      });
      if (refusal) return { refuse: refusal };
      app.log.info('file uploaded', { user: uploader.username, file: id, size: file.size, type: file.type, ip: uploader.ip });
      return { id };
    },
    uploadEnded(uploader) {
      uploader.release();
    },
    async authorizeDownload(id, request) {
      const signed = await signedIn(app, request);
      if ('refuse' in signed) return signed;
      const { user } = signed;
      if (!idPattern.test(id)) return undefined;
      const row = await store.files.downloadable(id, user.id);
      return row && storedFile(row);
    },
  });
  return { ...recordsOf((request) => signedIn(app, request)), uploadingAs: recordsOf };
}
