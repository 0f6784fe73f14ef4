// Message search: what a person types, made into a safe SQLite FTS5 query over what they can still see.
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

/** FTS5 marks hits with \u0002 and \u0003; the snippet becomes HTML with the text escaped and each hit in <mark>. */
function highlight(snippet: string): string {
  return escapeHtml(snippet).replaceAll('\u0002', '<mark>').replaceAll('\u0003', '</mark>');
}

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
      let rows;
      try {
        rows = ctx.store.search.find(me.id, match, conversation_id ?? null, before ?? null, size + 1);
      } catch (error) {
        ctx.log.warn('search query refused by SQLite', { query, error });
        throw fail('bad_search', { problem: 'it could not be understood' });
      }
      const page = rows.slice(0, size);
      const shown = sharedMessages(ctx.store, page);
      return {
        messages: shown.map((message, index) => ({ ...forReader(message, me.username), snippet: highlight(page[index]!.snippet) })),
        has_more: rows.length > size,
      };
    },
  },
} satisfies Partial<Handlers>;
