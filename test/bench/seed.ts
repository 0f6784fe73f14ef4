// Seeds a bench database straight through the storage layer and mints tokens with the server's own code.
import argon2 from 'argon2';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { openDiskStore } from '../../src/files/store.ts';
import { openDatabase, sqliteDriver, unitStore, type UserRow } from '../../src/storage/index.ts';
import type { Driver } from '../../src/storage/engine/sql.ts';
import type { Subscription } from '../../src/push/types.ts';
import { createTokens } from '../../src/auth/tokens.ts';

/** Messages one seeding statement writes. */
const seedChunk = 5000;

export const benchSecret = 'parley benchmark secret, 32 bytes or more';

/** `roots`: with `plan.roots`, a message of user 2i in pair i's conversation, to reply under in a thread. */
export type Seeded = { usernames: string[]; tokens: string[]; conversations: number[]; roots: number[] };

/**
 * `users` accounts (one argon2 hash shared by all: hashing is not what is measured), each logged in
 * once; `pairs` two-person conversations of users 2i and 2i+1; a `group` of the first `group` users;
 * `contacts` contacts for everyone, the nearest users on either side in a ring; a `channel` of users
 * 0 and 2 holding that many messages from user 2 (all with the word "common"), already indexed;
 * `channelDaysOld` days before now the channel's messages were sent (0 by default), `channelKeeps` the channel
 * keeping its messages for ever whatever RETENTION_DAYS (its own retention: 36,500 days); `files` that many
 * files of `bytes` random bytes each uploaded by user 2 into `filesDir` (through the server's disk store),
 * each attached to one of the channel's first messages;
 * `channels` more channels of user 2 alone and `conversations` groups of users 0 and 2, with no messages (the
 * numbers one account may pile up); `offline` browsers' push subscriptions: pair i also holds the two users after the pairs' ones
 * (2·pairs + 2i and + 2i + 1), each with a device registered for one of these subscriptions, never connected.
 */
export async function seed(driver: Driver, plan: { users: number; pairs?: number; roots?: boolean; group?: number; contacts?: number; channel?: number; channelDaysOld?: number; channelKeeps?: boolean;
  files?: { count: number; bytes: number }; channels?: number; conversations?: number; offline?: readonly Subscription[] }, filesDir?: string): Promise<Seeded> {
  // Everything in one transaction: the store of a unit of work.
  const store = unitStore(driver);
  const hash = await argon2.hash('bench password', { type: argon2.argon2id });
  const now = Math.floor(Date.now() / 1000);
  const usernames = Array.from({ length: plan.users }, (_, i) => `bench${i}`);
  const rows: UserRow[] = [];
  const conversations: number[] = [];
  const roots: number[] = [];
  const tokens = createTokens(new TextEncoder().encode(benchSecret), store, 3600);
  const minted: string[] = [];
  /**
   * A conversation as the server would leave it: its members also see its events in the log from the
   * start (their periods), which `sync` and the other nodes of a cluster read the events' readers from.
   */
  const conversation = async (plan: Parameters<typeof store.conversations.create>[0]): Promise<number> => {
    const id = await store.conversations.create(plan);
    for (const member of plan.memberIds) await store.members.openPeriod(id, member, 0);
    return id;
  };
  await driver.transaction(async () => {
    for (const username of usernames) {
      const id = (await store.users.insert({ username, fullname: `Bench ${username}`, passwordHash: hash, now }))!;
      rows.push((await store.users.byId(id))!);
    }
    const half = (plan.contacts ?? 0) / 2;
    for (let i = 0; i < plan.users; i++) {
      for (let step = 1; step <= half; step++) {
        const j = (i + step) % plan.users;
        if (j !== i && !(await store.contacts.exists(rows[i]!.id, rows[j]!.id))) await store.contacts.add(rows[i]!.id, rows[j]!.id, now);
      }
    }
    const pairs = plan.pairs ?? 0;
    if (plan.offline && plan.offline.length !== 2 * pairs) throw new Error('offline: two subscriptions per pair');
    for (let i = 0; i < pairs; i++) {
      const a = rows[2 * i]!;
      const b = rows[2 * i + 1]!;
      const away = plan.offline ? [rows[2 * pairs + 2 * i]!.id, rows[2 * pairs + 2 * i + 1]!.id] : [];
      conversations.push(await conversation({ name: `pair ${i}`, creatorId: a.id, memberIds: [a.id, b.id, ...away], now }));
      if (plan.roots) roots.push(await store.messages.insert({ conversationId: conversations.at(-1)!, senderId: a.id, replyId: null, content: `root of pair ${i}`, sentAt: now, clientId: null }));
    }
    if (plan.group) {
      const members = rows.slice(0, plan.group);
      conversations.push(await conversation({ name: 'everyone', creatorId: members[0]!.id, memberIds: members.map((row) => row.id), now }));
    }
    if (plan.channel) {
      const [reader, , writer] = [rows[0]!, rows[1]!, rows[2]!];
      const channel = await conversation({ name: 'archive', kind: 'channel', creatorId: writer.id, memberIds: [writer.id, reader.id], now });
      conversations.push(channel);
      if (plan.channelKeeps) await store.retention.set(channel, 36_500);
      const sentAt = now - (plan.channelDaysOld ?? 0) * 86_400;
      const carriers: number[] = [];
      // A chunk of rows a statement (PostgreSQL) rather than a round trip a row: a million take seconds, not minutes.
      for (let first = 0; first < plan.channel; first += seedChunk) {
        const ids = await store.messages.reserveIds(Math.min(seedChunk, plan.channel - first));
        carriers.push(...ids.slice(0, (plan.files?.count ?? 0) - carriers.length));
        await store.messages.insertMany(ids.map((id, i) => ({
          id, conversationId: channel, senderId: writer.id, replyId: null, content: `common word${(first + i) % 1000} message number ${first + i}`, sentAt, clientId: null, threadId: null, alsoSent: false,
        })));
      }
      await store.search.catchUp();
      if (plan.files) {
        if (!filesDir) throw new Error('files: the server\'s FILES_DIR is needed');
        const disk = openDiskStore(filesDir);
        for (let i = 0; i < plan.files.count; i++) {
          const pending = await disk.put(Readable.from([randomBytes(plan.files.bytes)]));
          const id = randomBytes(16).toString('hex');
          await store.files.insert({ id, uploaderId: writer.id, address: '127.0.0.1', key: pending.key, name: `file ${i}.bin`, size: pending.size, type: 'application/octet-stream', sha256: pending.sha256, now });
          await pending.commit();
          await store.files.attach(carriers[i]!, channel, [id]);
        }
      }
    }
    for (let i = 0; i < (plan.channels ?? 0); i++) await conversation({ name: `channel ${i}`, kind: 'channel', creatorId: rows[2]!.id, memberIds: [rows[2]!.id], now });
    for (let i = 0; i < (plan.conversations ?? 0); i++) await conversation({ name: `group ${i}`, creatorId: rows[2]!.id, memberIds: [rows[2]!.id, rows[0]!.id], now });
    for (const [index, row] of rows.entries()) {
      const issued = tokens.issue(row, now);
      await store.sessions.create(issued.session);
      minted.push(await issued.token());
      const subscription = plan.offline?.[index - 2 * pairs];
      if (subscription) {
        const { endpoint, keys } = subscription;
        await store.devices.register({ userId: row.id, sessionId: issued.session.id, name: 'bench browser', now, kind: 'webpush', endpoint, p256dh: keys.p256dh, auth: keys.auth });
      }
    }
  });
  await driver.close();
  return { usernames, tokens: minted, conversations, roots };
}

/** A SQLite database file for the server to start on. */
export const sqliteAt = (path: string): Driver => sqliteDriver(openDatabase(path));
