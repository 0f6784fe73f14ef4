// The retention job: deletes messages older than their conversation's retention (its set_retention days,
// else RETENTION_DAYS), oldest first, a bounded unit of work at a time, once a period across the nodes of
// a cluster (src/periodic.ts). Each unit takes one conversation's oldest messages with everything that
// could show them again: files nothing else uses, search entries, and the logged events about them (so
// `sync` never replays their words), and logs `messages_expired` so members' clients drop them too. A
// thread's root with newer replies is emptied and kept for them instead (see retention.ts's `anchors`).
import { setTimeout as sleep } from 'node:timers/promises';
import type { App } from './context.ts';
import { everyPeriod, type Periodic } from './periodic.ts';
import { logAndDeliver } from './delivery/fanout.ts';
import type { Job } from './storage/engine/commit.ts';
import type { Store } from './storage/index.ts';

/**
 * Messages one unit of work deletes at most: a few milliseconds of the writer (SQLite) or of a batch's
 * transaction (PostgreSQL), which other work waits behind. Measured with 300,000 messages deleted under a
 * bystander's pings: 500 a unit back to back gave a p99 of 88 ms; 100 a unit at half the time, 18 ms.
 */
export const messagesPerUnit = 100;
/** Units one round runs at most (a million messages): the rest waits for the next round. */
const unitsPerRound = 10_000;

type Unit = { conversation: number; deleted: number } | undefined;

export function startRetention(app: App): Periodic {
  const { log, settings } = app;

  /** Deletes the oldest expired messages of the first conversation after `after` that has some. */
  async function unit(job: Job<Store>, after: number): Promise<Unit> {
    const { store } = job;
    const now = app.now();
    const due = await store.retention.next(settings.RETENTION_DAYS, now, after);
    if (!due) return undefined;
    const ids = await store.retention.expired(due.id, now - due.days * 86_400, messagesPerUnit);
    if (ids.length === 0) return { conversation: due.id, deleted: 0 };
    const replies = await store.retention.repliesTo(ids);
    const anchors = new Set(await store.retention.anchors(ids));
    const files = await store.files.attachedTo(ids);
    // A thread's root with newer replies is emptied, as a deleted message is, and kept for them (retention.ts).
    for (const id of anchors) {
      await store.messages.tombstone(id, now);
      await store.mentions.drop(id);
      await store.files.detach(id);
    }
    await store.retention.remove(ids.filter((id) => !anchors.has(id)));
    await store.events.forgetMessages(ids, replies);
    // Its files go too, unless something else refers to them (their bytes once no file does: the file sweep).
    await store.files.remove(files, now);
    const scope = { store, job, now: app.now, registry: app.registry, ordering: app.ordering };
    await logAndDeliver(scope, 'messages_expired', { conversation_id: due.id, through_id: ids.at(-1)! }, { conversation: due.id });
    return { conversation: due.id, deleted: ids.length };
  }

  async function round(): Promise<void> {
    let deleted = 0;
    const conversations = new Set<number>();
    let after = 0;
    // A round can take minutes: one stopped (the server shutting down) ends after its unit under way.
    for (let units = 0; units < unitsPerRound && !stopped; units++) {
      const started = performance.now();
      const done = await app.commit.run((job) => unit(job, after));
      if (!done) break;
      deleted += done.deleted;
      if (done.deleted) conversations.add(done.conversation);
      // A full unit may have left more of the same conversation.
      if (done.deleted < messagesPerUnit) after = done.conversation;
      // As long again before the next unit: the job takes at most half the writer's time, whatever else waits.
      if (done.deleted) await sleep(performance.now() - started);
    }
    if (deleted) log.info('deleted expired messages', { messages: deleted, conversations: conversations.size });
  }

  let stopped = false;
  const periodic = everyPeriod(app, 'retention', settings.RETENTION_ROUND_SECONDS * 1000, round);
  return {
    first: periodic.first,
    stop() {
      stopped = true;
      periodic.stop();
    },
  };
}
