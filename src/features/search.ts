// Message search: what a person types, made into words and phrases the storage engine can search safely, over what they can still see.
import { randomBytes } from 'node:crypto';
import { events, limits } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { membership } from './membership.ts';
import { forReader } from '../delivery/views.ts';
import { later, type Handlers } from './handler.ts';
import type { SearchTerms } from '../storage/stores/search.ts';

const maxTerms = 20;
/** What both engines' tokenizers split words on: anything but letters and digits. */
const separators = /[^\p{L}\p{N}]+/u;

/**
 * Words (all must match), `word*` prefixes and "quoted phrases", as tokens: the engine quotes each
 * one, so no operator or column filter ever comes from the user: a query can match, not fail or inject.
 */
export function searchTerms(text: string): SearchTerms {
  if ((text.match(/"/g)?.length ?? 0) % 2 === 1) throw fail('bad_search', { problem: 'a quote is not closed' });
  const terms: { tokens: string[]; prefix: boolean }[] = [];
  for (const [, phrase, word] of text.matchAll(/"([^"]*)"|([^\s"]+)/g)) {
    const prefix = word?.endsWith('*') === true;
    const tokens = (phrase ?? word!.replace(/\*+$/, '')).split(separators).filter((token) => token !== '');
    if (tokens.length) terms.push({ tokens, prefix });
  }
  if (terms.length === 0) throw fail('bad_search', { problem: 'give at least one word or number' });
  if (terms.length > maxTerms) throw fail('bad_search', { problem: `at most ${maxTerms} words and phrases` });
  return terms;
}

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => escapes[char]!);

/**
 * Marks FTS5 puts around each hit: fresh for every search, so no message text can contain them and
 * unbalance the <mark>s. The snippet becomes HTML with the text escaped and each hit in <mark>.
 */
function markers() {
  const nonce = randomBytes(8).toString('hex');
  const open = `hit${nonce}open`;
  const close = `hit${nonce}close`;
  return { open, close, highlight: (snippet: string) => escapeHtml(snippet).replaceAll(open, '<mark>').replaceAll(close, '</mark>') };
}

/** Matches one search may examine: a query that matches everywhere but where the reader is costs no more than this. */
export const searchBudget = 2000;

export const searchHandlers = {
  search_messages: {
    schema: events.search_messages.request,
    async run(ctx, { query, conversation_id, before, limit }) {
      const me = ctx.caller.user;
      const terms = searchTerms(query);
      if (conversation_id != null) await membership(ctx, conversation_id);
      const size = limit ?? limits.searchPage.default;
      // On SQLite messages are indexed in batches: whatever is not in the index yet goes in before the query.
      await ctx.store.search.catchUp();
      // The search itself runs once that is committed, away from the queue of work (on SQLite on a reader thread);
      // one past the account's places for reads is refused rather than kept waiting.
      return later(async () => {
        const { open, close, highlight } = markers();
        const query = { reader: me.id, terms, conversation: conversation_id ?? null, before: before ?? null, limit: size, budget: searchBudget, open, close };
        const { value: { next, snippets, shown }, ms } = await ctx.reads.run('search', query);
        const messages = shown.map((message, index) => ({ ...forReader(message, me.username), snippet: highlight(snippets[index]!) }));
        return { data: { messages, has_more: next !== null, next }, ms };
      }, 'refuse');
    },
  },
} satisfies Partial<Handlers>;
