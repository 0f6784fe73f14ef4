// @mentions: `@username` of a member in a message's content, recorded with the message; a mention
// notifies its member even where they asked to be notified of mentions only.
import type { Store } from '../storage/index.ts';

/** Different names one message is looked at for: a message of nothing but @names costs no more than this. */
const maxNames = 50;

/** `@name` not preceded by a letter, digit or name character (so `alice@example.com` mentions nobody). */
const pattern = /(?<![\p{L}\p{N}_.@-])@([A-Za-z0-9_.-]{1,64})/gu;

/**
 * The names written as `@name`, lower-cased, in order of appearance, each once; a name ending in dots
 * or dashes is tried without them too (`@bob.` at the end of a sentence is bob).
 */
export function mentionedNames(content: string): string[] {
  if (!content.includes('@')) return [];
  const names = new Set<string>();
  for (const [, name] of content.matchAll(pattern)) {
    for (const candidate of [name!, name!.replace(/[.-]+$/, '')]) if (candidate) names.add(candidate.toLowerCase());
    if (names.size >= maxNames) break;
  }
  return [...names];
}

/** The members of a conversation a message's content mentions, in the order it names them. */
export async function mentionsIn(store: Store, conversationId: number, content: string): Promise<{ id: number; username: string }[]> {
  const names = mentionedNames(content);
  if (names.length === 0) return [];
  const byName = new Map((await store.mentions.members(conversationId, names)).map((member) => [member.username.toLowerCase(), member]));
  const found = new Map<number, { id: number; username: string }>();
  for (const name of names) {
    const member = byName.get(name);
    if (member && !found.has(member.id)) found.set(member.id, member);
  }
  return [...found.values()];
}
