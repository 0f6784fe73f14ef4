// The app's view of the event log: every logged event once, in `seq` order, across reconnects;
// live pushes held while a reconnect catches up, and the last delivered `seq` kept in storage.
import type { PushData, PushType, SuccessEnvelope } from './index.ts';

/** Where the last delivered `seq` is kept: `localStorage` fits, and so does anything with these two methods. */
export type SeqStorage = {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
};

/** What `on` can listen to: every push, and `reset` (the log no longer reaches back to the last seq: reload). */
export type StreamEvents = { [T in PushType]: PushData<T> } & { reset: { next: number } };
export type StreamEventType = keyof StreamEvents;
/** `seq`: the event's place in the log (absent on `user_status` and `typing`, which are not logged). */
export type Listener<T extends StreamEventType> = (data: StreamEvents[T], meta: { seq?: number }) => void;

export function memoryStorage(): SeqStorage {
  const values = new Map<string, string>();
  return { getItem: (key) => values.get(key) ?? null, setItem: (key, value) => void values.set(key, value) };
}

export function createEventStream(storage: SeqStorage) {
  const listeners = new Map<string, Set<Listener<never>>>();
  let key: string | undefined;
  let lastSeq = 0;
  let holding = false;
  let held: SuccessEnvelope[] = [];

  function emit(type: string, data: unknown, seq: number | undefined): void {
    for (const listener of listeners.get(type) ?? []) {
      try {
        (listener as Listener<StreamEventType>)(data as never, { seq });
      } catch (error) {
        // An app's listener that throws must not stop the stream; the error still surfaces.
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  function advance(seq: number): void {
    lastSeq = seq;
    storage.setItem(key!, String(seq));
  }

  /** Delivers a logged event unless it already was; an event without `seq` always. */
  function deliver(envelope: SuccessEnvelope): void {
    if (envelope.seq !== undefined) {
      if (envelope.seq <= lastSeq) return;
      advance(envelope.seq);
    }
    emit(envelope.type, envelope.data, envelope.seq);
  }

  return {
    on<T extends StreamEventType>(type: T, listener: Listener<T>): () => void {
      let set = listeners.get(type);
      if (!set) listeners.set(type, (set = new Set()));
      set.add(listener as Listener<never>);
      return () => set.delete(listener as Listener<never>);
    },
    /** A socket is opening: what it hears live waits until the catch-up is done. */
    hold(): void {
      holding = true;
      held = [];
    },
    /** The `seq` to sync from: the last delivered, read from storage for the user's first socket. */
    since(username: string): number {
      if (key === undefined) {
        key = `parley:last-seq:${username}`;
        lastSeq = Number(storage.getItem(key) ?? 0) || 0;
      }
      return lastSeq;
    },
    /** One page of `sync`, oldest first. */
    synced(events: readonly SuccessEnvelope[]): void {
      for (const envelope of events) deliver(envelope);
    },
    /** `sync` answered `reset`: the events up to `next` are gone; the app reloads its state. */
    reset(next: number): void {
      advance(next);
      emit('reset', { next }, undefined);
    },
    /** Caught up: what arrived live meanwhile follows, without what the sync already delivered. */
    caughtUp(): void {
      holding = false;
      const waiting = held;
      held = [];
      for (const envelope of waiting) deliver(envelope);
    },
    /** The socket is gone: what it held comes again from the next sync. */
    drop(): void {
      holding = false;
      held = [];
    },
    /** A live push, or a reply that carries an event's `seq`. */
    live(envelope: SuccessEnvelope): void {
      if (holding) held.push(envelope);
      else deliver(envelope);
    },
  };
}

export type EventStream = ReturnType<typeof createEventStream>;
