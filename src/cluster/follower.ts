// Following the committed event log on one node of a cluster: woken by other nodes' NOTIFY (and a slow
// poll, should a notification be lost), it reads what was committed after the last seq delivered here
// and hands it to the sequencer, which delivers other nodes' events to this node's sockets and this
// node's own in their place, so every socket here sees seq in increasing order with nothing skipped.
import type { Logger } from '../log.ts';
import type { Commit } from '../storage/engine/commit.ts';
import type { Sequencer } from '../ordering.ts';
import { followEvents, type FollowedEvent } from '../storage/postgres/followed.ts';
import { postgresPool } from '../storage/engine/postgres.ts';
import { personal } from '../delivery/views.ts';

/** Events read at once; more are read straight after. */
const page = 1000;
/** The safety net: how often the log is read without being woken. */
export const pollMs = 1000;

export type FollowerOptions = {
  url: string;
  ca?: string;
  nodeId: string;
  log: Logger;
  sequencer: Sequencer;
  commit: Pick<Commit, 'after'>;
  deliver(event: FollowedEvent): void;
};

/** Starts following from the log's last seq; resolves once listening (before any socket opens). */
export async function startFollower(options: FollowerOptions) {
  const { nodeId, log, sequencer } = options;
  // Two connections: one that listens, one that reads.
  const pool = postgresPool({ url: options.url, pool: 1, ca: options.ca, log });
  let reading = false;
  let again = false;
  let waitingFor: number | undefined;
  let started = false;
  let stopped = false;

  async function catchUp(): Promise<void> {
    if (!started || stopped) return;
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      do {
        again = false;
        const { events, upTo } = await followed.read(sequencer.through(), page);
        const waiting = sequencer.advance(events, upTo, options.deliver);
        // Settled at once when no batch is under way: its wake then only sets `again`, so read on here.
        if (typeof waiting === 'number') settle(waiting);
        // ('numbering': the sequencer wakes this once this node's numbers are back.)
        else if (waiting === undefined && events.size === page) again = true;
      } while (again && !stopped);
    } catch (error) {
      log.warn('reading the event log failed; trying again', { error: String(error) });
    } finally {
      reading = false;
    }
  }
  const wake = () => void catchUp();

  /**
   * The log has `seq`, which this node logged but has not handed over: its batch is between COMMIT
   * and its effects, or the unit that logged it was undone and another node took the seq. Once the
   * batches under way are over it is one or the other.
   */
  function settle(seq: number): void {
    if (waitingFor === seq) return;
    waitingFor = seq;
    options.commit.after(() => {
      waitingFor = undefined;
      sequencer.forget(seq);
      wake();
    });
  }

  const followed = await followEvents(pool, nodeId, log, wake, [...personal]);
  // Each batch of this node's that logs events notifies the others with its COMMIT (events.ts).
  sequencer.hooks({ behind: wake, announce: nodeId });
  sequencer.start(await followed.latest());
  started = true;
  const poll = setInterval(wake, pollMs);
  poll.unref();
  return {
    async close(): Promise<void> {
      stopped = true;
      clearInterval(poll);
      await followed.close();
      await pool.end({ timeout: 5 });
    },
  };
}
