// Message search: what a person types, made into a safe SQLite FTS5 query over what they can still see.
import { randomBytes } from 'node:crypto';
import { events, limits } from '../../protocol/index.ts';
import { fail } from '../errors.ts';
import { membership } from './membership.ts';
import { forReader, sharedMessages } from './message-view.ts';
import type { Handlers } from './handler.ts';

const maxTerms = 20;
const hasWord = /[\p{L}\p{N}]/u;

/**
 * Words (all must match), `word*` prefixes and "quoted phrases", each quoted for FTS5 so that its
 * operators and column filters never come from the user: a query can match, not fail or inject.
 */
export function ftsQuery(text: string): string {
  if ((text.match(/"/g)?.length ?? 0) % 2 === 1) throw fail('bad_search', { problem: 'a quote is not closed' });
  const terms: string[] = [];
  for (const [, phrase, word] of text.matchAll(/"([^"]*)"|([^\s"]+)/g)) {
    const prefix = word?.endsWith('*') === true;
    const body = phrase ?? word!.replace(/\*+$/, '');
    if (!hasWord.test(body)) continue;
    terms.push(`"${body}"${prefix ? '*' : ''}`);
  }
  if (terms.length === 0) throw fail('bad_search', { problem: 'give at least one word or number' });
  if (terms.length > maxTerms) throw fail('bad_search', { problem: `at most ${maxTerms} words and phrases` });
  return terms.join(' ');
}

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => escapes[char]!);

/**
 * Marks FTS5 puts around each hit: fresh for every search, so no message text can contain them and
 * unbalance the <mark>s. The snippet becomes HTML with the text escaped and each hit in <mark>.
 */
function markers() {
  const nonce = randomBytes(8).toString('hex');
  const open = `\u0002${nonce}\u0003`;
  const close = `\u0003${nonce}\u0002`;
  return { open, close, highlight: (snippet: string) => escapeHtml(snippet).replaceAll(open, '<mark>').replaceAll(close, '</mark>') };
}

/** Matches one search may examine: a query that matches everywhere but where the reader is costs no more than this. */
export const searchBudget = 2000;

export const searchHandlers = {
  search_messages: {
    schema: events.search_messages.request,
    run(ctx, { query, conversation_id, before, limit }) {
      const me = ctx.caller.user;
      const match = ftsQuery(query);
      if (conversation_id != null) membership(ctx, conversation_id);
      const size = limit ?? limits.searchPage.default;
      // Messages are indexed in batches: whatever is not in the index yet goes in before the query.
      ctx.store.search.catchUp();
      const { open, close, highlight } = markers();
      let found;
      try {
        found = ctx.store.search.find({ reader: me.id, match, conversation: conversation_id ?? null, before: before ?? null, limit: size, budget: searchBudget, open, close });
      } catch (error) {
        ctx.log.warn('search query refused by SQLite', { query, error });
        throw fail('bad_search', { problem: 'it could not be understood' });
      }
      const shown = sharedMessages(ctx.store, found.rows);
      return {
        messages: shown.map((message, index) => ({ ...forReader(message, me.username), snippet: highlight(found.rows[index]!.snippet) })),
        has_more: found.next !== null,
        next: found.next,
      };
    },
  },
} satisfies Partial<Handlers>;
