// The outbox of src/push/outbox.ts kept in memory, for the worker's tests; it passes the same contract
// (test/helpers/outbox-contract.ts) the SQLite and PostgreSQL outboxes must pass.
import { randomUUID } from 'node:crypto';
import { outboxKey, rankOf, type Outbox, type OutboxItem } from '../../src/push/outbox.ts';
import type { Device, Notification } from '../../src/push/types.ts';

/** One row of the outbox table: one device, one key. */
type Row = {
  deviceId: number;
  key: string;
  notification: Notification;
  rank: number;
  version: number;
  sentVersion: number;
  queuedAt: number;
  dueAt: number;
  holdUntil: number;
  attempts: number;
  lease: string | null;
  leaseUntil: number;
};

export type MemoryOutbox = Outbox & {
  devices: Map<number, Device>;
  /** Rows with something pending. */
  pending(): number;
};

/** `unread`: what the claim counts as the conversation's unread messages for a user (0 when not given). */
export function createMemoryOutbox(devices: Device[], unread: (userId: number, conversationId: number) => number = () => 0): MemoryOutbox {
  const rows = new Map<string, Row>();
  const byDevice = new Map(devices.map((device) => [device.id, device]));
  const owned = (item: OutboxItem) => {
    const row = rows.get(`${item.device.id} ${item.key}`);
    return row && row.lease === item.lease ? row : undefined;
  };
  return {
    devices: byDevice,
    pending: () => [...rows.values()].filter((row) => row.version > row.sentVersion).length,
    async enqueue(entries, now) {
      for (const { deviceId, notification } of entries) {
        if (!byDevice.has(deviceId)) throw new Error(`no device ${deviceId}`);
        const key = outboxKey(notification);
        const row = rows.get(`${deviceId} ${key}`);
        if (!row) {
          rows.set(`${deviceId} ${key}`, { deviceId, key, notification, rank: rankOf(notification), version: 1, sentVersion: 0, queuedAt: now, dueAt: now, holdUntil: 0, attempts: 0, lease: null, leaseUntil: 0 });
          continue;
        }
        const idle = row.version === row.sentVersion;
        const beingSent = row.lease !== null && row.leaseUntil > now;
        if (idle || beingSent || rankOf(notification) >= row.rank) {
          row.notification = notification;
          row.rank = rankOf(notification);
        }
        if (idle) {
          row.queuedAt = now;
          row.dueAt = Math.max(now, row.holdUntil);
          row.attempts = 0;
        }
        row.version++;
      }
    },
    async claim(now, limit, leaseMs) {
      const lease = randomUUID();
      const due = [...rows.values()]
        .filter((row) => row.version > row.sentVersion && row.dueAt <= now && (row.lease === null || row.leaseUntil <= now))
        .sort((a, b) => a.dueAt - b.dueAt)
        .slice(0, limit);
      return due.map((row) => {
        row.lease = lease;
        row.leaseUntil = now + leaseMs;
        row.attempts++;
        const device = byDevice.get(row.deviceId)!;
        const { notification } = row;
        return {
          device,
          key: row.key,
          notification,
          unread: notification.kind === 'notice' ? null : unread(device.userId, notification.conversation.id),
          version: row.version,
          queuedAt: row.queuedAt,
          attempts: row.attempts,
          lease,
        };
      });
    },
    async complete(item, now, holdUntil) {
      const row = owned(item);
      if (!row) return false;
      row.sentVersion = item.version;
      row.holdUntil = holdUntil;
      row.lease = null;
      if (row.version > item.version) {
        row.queuedAt = now;
        row.dueAt = Math.max(now, holdUntil);
        row.attempts = 0;
      }
      return true;
    },
    async retry(item, at) {
      const row = owned(item);
      if (!row) return false;
      row.dueAt = at;
      row.lease = null;
      return true;
    },
    async removeDevice(deviceId) {
      byDevice.delete(deviceId);
      for (const [name, row] of rows) if (row.deviceId === deviceId) rows.delete(name);
    },
    async prune(now) {
      let pruned = 0;
      for (const [name, row] of rows) {
        if (row.version === row.sentVersion && row.lease === null && row.holdUntil <= now) {
          rows.delete(name);
          pruned++;
        }
      }
      return pruned;
    },
  };
}
