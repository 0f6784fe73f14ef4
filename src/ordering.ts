// Delivering logged events on this node in seq order. A node alone delivers each event as soon as it is
// committed. In a cluster this node's own events and those the follower finds committed by other nodes
// interleave: each is delivered once every lower seq has been, so no socket sees a seq before a lower one.
import type { Logger } from './log.ts';

export type Ordering = {
  /**
   * As this node's batch sends the statement that numbers its events (with its COMMIT, which may run
   * before the numbers come back): until the returned function runs, once they came back or failed, a
   * committed seq this node has not heard of may be its own.
   */
  numbering(): () => void;
  /** Once this node's batch numbered an event `seq` (before its COMMIT): it is this node's, delivered by `committed`, never as another node's… */
  logged(seq: number): void;
  /** …unless that COMMIT failed: then `seq` may be another node's after all. */
  undone(seq: number): void;
  /** Once `seq` is committed: runs `deliver` when every lower seq has been delivered here. */
  committed(seq: number, deliver: () => void): void;
  /** What a batch that logs events tells the other nodes at its COMMIT (a node alone: nothing). */
  announcing(): string | undefined;
};

/** A node alone: nothing to wait for. */
export const immediateOrdering: Ordering = {
  numbering: () => () => {},
  logged() {},
  undone() {},
  committed: (_seq, deliver) => deliver(),
  announcing: () => undefined,
};

/** What the follower of the event log needs besides Ordering. */
export type Sequencer = Ordering & {
  /** Every seq up to this one has been delivered (or was not to be). */
  through(): number;
  /** Before any socket opens: the log's last seq, where following begins. */
  start(through: number): void;
  /**
   * Committed events the follower read, every seq up to `upTo` accounted for (a seq missing from
   * `events` was pruned or deleted since). Delivers in order, this node's own as `committed` handed them;
   * returns the first seq of this node's that is not handed over yet (the follower waits for it), if any,
   * or 'numbering' when it stopped at a seq that may be this node's own, its numbers not back yet (the
   * follower is woken through `behind` once they are).
   */
  advance<E>(events: ReadonlyMap<number, E>, upTo: number, remote: (event: E) => void): number | 'numbering' | undefined;
  /** A seq this node logged in a unit of work that was undone: it may be another node's after all. */
  forget(seq: number): void;
  /** This node's committed events waiting for a lower seq (another node's) to be read first. */
  waiting(): number;
  /** `behind`: local events wait for others; `announce`: what this node's commits of events tell the other nodes. */
  hooks(hooks: { behind(): void; announce?: string }): void;
};

export function createSequencer(log: Logger): Sequencer {
  let through = 0;
  const held = new Map<number, () => void>();
  const ours = new Set<number>();
  let hooks: { behind(): void; announce?: string } = { behind() {} };
  /** This node's numbering statements whose answers have not come back. */
  let numbering = 0;
  let stalled = false;

  const run = (seq: number, deliver: () => void) => {
    try {
      deliver();
    } catch (error) {
      log.error('delivering an event failed', { seq, error });
    }
  };
  function drain(): void {
    for (let next = held.get(through + 1); next; next = held.get(through + 1)) {
      held.delete(++through);
      run(through, next);
    }
  }

  return {
    numbering() {
      numbering++;
      let over = false;
      return () => {
        if (over) return;
        over = true;
        numbering--;
        if (numbering === 0 && stalled) {
          stalled = false;
          hooks.behind();
        }
      };
    },
    logged: (seq) => void ours.add(seq),
    undone: (seq) => void ours.delete(seq),
    committed(seq, deliver) {
      ours.delete(seq);
      if (seq <= through) {
        // Only if the follower took it for another node's: better late than never.
        log.error('an event was delivered out of order', { seq, through });
        return run(seq, deliver);
      }
      held.set(seq, deliver);
      drain();
      if (held.size > 0) hooks.behind();
    },
    announcing: () => hooks.announce,
    through: () => through,
    start(from) {
      through = from;
    },
    advance(events, upTo, remote) {
      for (let seq = through + 1; seq <= upTo; seq++) {
        const mine = held.get(seq);
        if (mine) {
          held.delete(seq);
          through = seq;
          run(seq, mine);
          continue;
        }
        if (ours.has(seq)) return seq;
        // Committed, and not known as this node's: unless a numbering of this node's is still on its way
        // back (PostgreSQL ran it and its COMMIT, and the follower's read came back first).
        if (numbering > 0) {
          stalled = true;
          drain();
          return 'numbering';
        }
        through = seq;
        const event = events.get(seq);
        if (event !== undefined) run(seq, () => remote(event));
      }
      drain();
      return undefined;
    },
    forget(seq) {
      ours.delete(seq);
    },
    waiting: () => held.size,
    hooks(given) {
      hooks = given;
    },
  };
}
