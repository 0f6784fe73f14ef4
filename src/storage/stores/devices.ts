// Devices notifications go to: a browser's Web Push subscription or a native app's token, each
// belonging to the session that registered it (it goes when that session ends).
import { dialect, inList, returning, type Sql } from '../engine/sql.ts';

export type DeviceRow = {
  id: number;
  session_id: string;
  kind: 'webpush' | 'webhook';
  endpoint: string | null;
  platform: string | null;
  name: string;
  created_at: number;
};

export type NewDevice = { userId: number; sessionId: string; name: string; now: number } & (
  | { kind: 'webpush'; endpoint: string; p256dh: string; auth: string }
  | { kind: 'webhook'; token: string; platform: string | null }
);

/** Members of conversation $1 but $2 who hold at least one device. */
export const holdersText = `SELECT DISTINCT devices.user_id FROM members JOIN devices ON devices.user_id = members.user_id
      WHERE members.conversation_id = $1 AND members.user_id <> $2`;

export function devicesStore(sql: Sql) {
  const insert = sql.prepare(returning(
    `INSERT INTO devices (user_id, session_id, kind, endpoint, p256dh, auth, token, platform, name, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
  ));
  // A browser profile has one subscription whoever is logged in: registering it again moves it to the new session (and account).
  const dropEndpoint = sql.prepare('DELETE FROM devices WHERE endpoint = $1');
  const dropToken = sql.prepare('DELETE FROM devices WHERE token = $1');
  // NULLs spelled out: a webhook device's endpoint (and a browser's token) is null, and must still count.
  const countOthers = sql.prepare(
    `SELECT count(*) FROM devices WHERE user_id = $1
        AND (CAST($2 AS text) IS NULL OR endpoint IS NULL OR endpoint <> $2)
        AND (CAST($3 AS text) IS NULL OR token IS NULL OR token <> $3)`,
  );
  const list = sql.prepare<DeviceRow>('SELECT id, session_id, kind, endpoint, platform, name, created_at FROM devices WHERE user_id = $1 ORDER BY id');
  const remove = sql.prepare('DELETE FROM devices WHERE id = $1 AND user_id = $2');
  const forSessions = sql.prepare(dialect`DELETE FROM devices WHERE ${inList('session_id', '$1', 'text')}`);
  const ended = sql.prepare('DELETE FROM devices WHERE session_id IN (SELECT id FROM sessions WHERE revoked_at IS NOT NULL OR expires_at <= $1)');
  // Members of a conversation but one who hold a device: the only ones a notification can reach.
  const holders = sql.prepare(holdersText);

  return {
    /** Registers a device; one with the same endpoint or token (on any account) is replaced. Returns its id. */
    async register(device: NewDevice): Promise<number> {
      if (device.kind === 'webpush') await dropEndpoint.run(device.endpoint);
      else await dropToken.run(device.token);
      const [endpoint, p256dh, auth] = device.kind === 'webpush' ? [device.endpoint, device.p256dh, device.auth] : [null, null, null];
      const [token, platform] = device.kind === 'webhook' ? [device.token, device.platform] : [null, null];
      return insert.insert(device.userId, device.sessionId, device.kind, endpoint, p256dh, auth, token, platform, device.name, device.now);
    },
    /** The user's devices but the one this endpoint or token names (which registering would replace). */
    countOthers: async (userId: number, endpoint: string | null, token: string | null): Promise<number> => (await countOthers.value<number>(userId, endpoint, token)) ?? 0,
    list: (userId: number): Promise<DeviceRow[]> => list.all(userId),
    /** False when the user has no such device. */
    remove: async (userId: number, id: number): Promise<boolean> => (await remove.run(id, userId)) === 1,
    /** The devices of sessions that end (their outbox rows go with them). */
    async dropForSessions(sessionIds: readonly string[]): Promise<void> {
      if (sessionIds.length) await forSessions.run(sql.list(sessionIds));
    },
    /** Devices of sessions that expired or were revoked; returns how many went. */
    pruneEnded: (now: number): Promise<number> => ended.run(now),
    /** Users among a conversation's members, `except` one, who hold at least one device. */
    holdersIn: (conversationId: number, except: number): Promise<number[]> => holders.values<number>(conversationId, except),
  };
}
