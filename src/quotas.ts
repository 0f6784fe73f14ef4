// Caps per account an hour on what reaches other people unasked: conversations and channels created,
// people added or invited (each one a notification on their devices), contacts added (a row in the other
// person's capped list). Counted over every node of a cluster, so that spreading requests over nodes gets
// no more.
import { fail } from './errors.ts';
import type { Settings } from './config.ts';
import type { ClusterSeam } from './cluster/seam.ts';

export type Quotas = ReturnType<typeof createQuotas>;

const hourMs = 3600_000;
const minutes = (waitMs: number) => Math.max(1, Math.ceil(waitMs / 60_000));

export function createQuotas(app: { settings: Settings; cluster: Pick<ClusterSeam, 'window'> }) {
  const { CONVERSATIONS_PER_HOUR, CHANNELS_PER_HOUR, ADDS_PER_HOUR, CONTACTS_PER_HOUR } = app.settings;
  const conversations = app.cluster.window('conversations', CONVERSATIONS_PER_HOUR, hourMs);
  const channels = app.cluster.window('channels', CHANNELS_PER_HOUR, hourMs);
  const adds = app.cluster.window('adds', ADDS_PER_HOUR, hourMs);
  const contacts = app.cluster.window('contacts', CONTACTS_PER_HOUR, hourMs);

  /** Counts `count` people `userId` adds to or invites into conversations (all or none), or refuses them. */
  async function adding(userId: number, count: number): Promise<void> {
    if (count === 0) return;
    if (count > ADDS_PER_HOUR) throw fail('adds_over_hourly', { limit: ADDS_PER_HOUR, count });
    const wait = await adds(String(userId), count);
    if (wait > 0) throw fail('too_many_adds', { limit: ADDS_PER_HOUR, count, minutes: minutes(wait) });
  }

  return {
    adding,
    /** Counts a contact `userId` adds, or refuses it. */
    async addingContact(userId: number): Promise<void> {
      const wait = await contacts(String(userId));
      if (wait > 0) throw fail('too_many_contact_adds', { limit: CONTACTS_PER_HOUR, minutes: minutes(wait) });
    },
    /**
     * Counts a conversation `userId` creates (a channel against the channels' cap) with `others` people
     * in it besides them, or refuses it; refused people give the conversation back.
     */
    async creating(userId: number, kind: 'group' | 'direct' | 'channel', others: number): Promise<void> {
      const [window, limit, error] = kind === 'channel'
        ? [channels, CHANNELS_PER_HOUR, 'too_many_channels' as const]
        : [conversations, CONVERSATIONS_PER_HOUR, 'too_many_conversations' as const];
      const wait = await window(String(userId));
      if (wait > 0) throw fail(error, { limit, minutes: minutes(wait) });
      try {
        await adding(userId, others);
      } catch (error) {
        await window(String(userId), -1);
        throw error;
      }
    },
  };
}
