// This thread's time, shared among the pieces of work under way on it: what an account is charged for its events.
//
// Pieces of work on one event loop interleave at their awaits, and on PostgreSQL wait for the same
// connections: timed alone, each would be charged the time it spent waiting while the others ran (a
// read would cost more the busier the server is with other people). Timed here, each elapsed moment is
// split evenly among the pieces under way in it, so that the charges add up to the time the thread had
// work, and no moment is charged twice; the moments the thread spends on something else known (a frame
// coming in, replies and pushes going out) are charged to none of them. One meter a thread, like its
// clock: every server on the thread (several in a test process) shares its time, and a reader thread
// has a meter of its own.

let running = 0;
/** Synchronous sections running now (`alone`): their time is no piece's. */
let apart = 0;
/** Elapsed time divided by the pieces under way at each moment, summed since the thread began. */
let shared = 0;
let at = performance.now();

const advance = () => {
  const now = performance.now();
  if (running > 0 && apart === 0) shared += (now - at) / running;
  at = now;
};

/** Runs `section` (synchronous: nothing else runs meanwhile), its time charged to no piece under way. */
export function alone<T>(section: () => T): T {
  advance();
  apart++;
  try {
    return section();
  } finally {
    advance();
    apart--;
  }
}

/** Starts a piece of work; the function returned ends it (once; later calls repeat the answer) and gives its share in ms. */
export function startShare(): () => number {
  advance();
  running++;
  const from = shared;
  let share: number | undefined;
  return () => {
    if (share === undefined) {
      advance();
      running--;
      share = shared - from;
    }
    return share;
  };
}
