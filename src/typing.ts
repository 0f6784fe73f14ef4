// Typing: who is typing where, pushed to the other online members; never stored, and it ends by itself.
// The `typing` event's handler is features/typing.ts.
import { limits } from '../protocol/index.ts';
import { pushText } from './envelope.ts';
import type { Logger } from './log.ts';
import type { Registry } from './registry.ts';
import type { ClusterSeam } from './cluster/seam.ts';
import type { Store } from './storage/index.ts';

type User = { readonly id: number; readonly username: string };

export type Typing = ReturnType<typeof createTyping>;

export function createTyping(app: { store: Store; registry: Registry; log: Logger; cluster: ClusterSeam }) {
  /** `conversation:user` → the timer that ends it. */
  const active = new Map<string, { timer: NodeJS.Timeout; conversationId: number; user: User }>();
  // Counted over every node of a cluster: a client spreading its sockets over nodes gets no more.
  const allowed = app.cluster.window('typing', limits.typingPerWindow, limits.typingWindowSeconds * 1000);

  /**
   * Pushes a typing change to the conversation's other members but those on either side of a block with
   * the typist (typing shows presence, which a block hides both ways); never stored, so read outside any unit of work.
   */
  async function tell(conversationId: number, user: User, isTyping: boolean): Promise<void> {
    const hidden = new Set(await app.store.contacts.blockingIn(conversationId, user.id));
    const others = (await app.store.conversations.members(conversationId)).flatMap((member) => (member.id === user.id || hidden.has(member.id) ? [] : [member.id]));
    const text = pushText('typing', { conversation_id: conversationId, username: user.username, is_typing: isTyping });
    app.registry.push(others, text);
    app.cluster.push('typing', others, text);
  }
  const told = (conversationId: number, user: User, isTyping: boolean) =>
    void tell(conversationId, user, isTyping).catch((error: unknown) => app.log.warn('typing not pushed', { error }));

  function stop(key: string): void {
    const found = active.get(key);
    if (!found) return;
    clearTimeout(found.timer);
    active.delete(key);
    told(found.conversationId, found.user, false);
  }

  return {
    /** Milliseconds the user must wait before another typing event in the conversation (counted over every node); 0 when counted. */
    wait: (conversationId: number, userId: number): Promise<number> => allowed(`${conversationId}:${userId}`),
    /** Starts, keeps alive or stops a user's typing; only changes are pushed. */
    set(conversationId: number, user: User, isTyping: boolean): void {
      const key = `${conversationId}:${user.id}`;
      const found = active.get(key);
      if (!isTyping) return stop(key);
      if (found) return void found.timer.refresh();
      const timer = setTimeout(() => stop(key), limits.typingSeconds * 1000).unref();
      active.set(key, { timer, conversationId, user });
      told(conversationId, user, true);
    },
    /** A user's last socket closed: whatever they were typing ends. */
    gone(userId: number): void {
      for (const [key, { user }] of active) if (user.id === userId) stop(key);
    },
    /** At shutdown: forget every timer without telling anyone. */
    clear(): void {
      for (const { timer } of active.values()) clearTimeout(timer);
      active.clear();
    },
  };
}
