// Full-text search over messages, newest first, examining a bounded number of matches per request:
// SQLite's FTS5 (indexed in batches), or PostgreSQL's tsvector column with a GIN index.
import { dialect, inList, type Sql } from '../engine/sql.ts';
import { notBlocked } from './contacts.ts';
import { messageColumns, messageJoins, type MessageRow } from './messages.ts';

/** A search as words: every term must match; a term is a phrase of tokens, the last one a prefix when `prefix`. */
export type SearchTerms = readonly { readonly tokens: readonly string[]; readonly prefix: boolean }[];

/** Matches read from the index at a time, newest first. */
const chunk = 250;

export type SearchQuery = { reader: number; terms: SearchTerms; conversation: number | null; before: number | null; limit: number; budget: number; open: string; close: string };

export type SearchPage = {
  rows: (MessageRow & { snippet: string })[];
  /** Where the next page starts (a `before` cursor), or null when every match has been examined. */
  next: number | null;
};

/** FTS5's query language: each term a quoted phrase (so no operator or column filter comes from the user), `*` for a prefix. */
const fts5 = (terms: SearchTerms) => terms.map(({ tokens, prefix }) => `"${tokens.join(' ').replaceAll('"', '""')}"${prefix ? '*' : ''}`).join(' ');

/** PostgreSQL's tsquery: quoted lexemes, `<->` within a phrase, `:*` for a prefix, `&` between terms. */
const tsquery = (terms: SearchTerms) =>
  terms.map(({ tokens, prefix }) => tokens.map((token, i) => `'${token.replaceAll("'", "''").replaceAll('\\', '\\\\')}'${prefix && i === tokens.length - 1 ? ':*' : ''}`).join(' <-> ')).join(' & ');

export function searchStore(sql: Sql) {
  const postgres = sql.engine === 'postgres';
  // SQLite indexes new messages in batches (an FTS5 segment per transaction would cost more than the message);
  // PostgreSQL keeps the tsvector column in step by itself.
  const indexing = postgres
    ? undefined
    : {
      through: sql.prepare('SELECT through FROM search_index WHERE id = 1'),
      newest: sql.prepare('SELECT max(id) FROM messages'),
      index: sql.prepare('INSERT INTO messages_fts (rowid, content) SELECT id, content FROM messages WHERE id > $1 AND id <= $2'),
      advance: sql.prepare('UPDATE search_index SET through = $1 WHERE id = 1'),
    };
  // Newest first, stopping at the limit: FTS5 walks its index backwards; PostgreSQL picks the GIN index
  // for rare words and a backward walk of the primary key for common ones.
  const candidates = sql.prepare({
    sqlite: 'SELECT rowid FROM messages_fts WHERE messages_fts MATCH $1 AND rowid < $2 ORDER BY rowid DESC LIMIT $3',
    postgres: "SELECT id FROM messages WHERE search_vector @@ to_tsquery('parley', $1) AND id < $2 ORDER BY id DESC LIMIT $3",
  });
  const visible = sql.prepare(dialect`
    SELECT m.id FROM messages AS m
      JOIN members ON members.conversation_id = m.conversation_id AND members.user_id = $2
     WHERE ${inList('m.id', '$1')} AND m.id > members.cleared_id AND m.deleted_at IS NULL
       AND (CAST($3 AS BIGINT) IS NULL OR m.conversation_id = $3) AND ${notBlocked('$2')}
     ORDER BY m.id DESC`);
  // The page's messages with their snippets: on SQLite one in-process statement a hit (FTS5's snippet needs
  // the row's MATCH); on PostgreSQL the whole page in one round trip.
  const hits = sql.prepare<MessageRow & { snippet: string }>({
    sqlite: `SELECT ${messageColumns}, snippet(messages_fts, 0, $3, $4, '…', 16) AS snippet ${messageJoins}
               JOIN messages_fts ON messages_fts.rowid = m.id
              WHERE messages_fts MATCH $1 AND messages_fts.rowid = $2`,
    postgres: `SELECT ${messageColumns},
                      ts_headline('parley', replace(replace(replace(m.content, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), to_tsquery('parley', $1),
                                  'StartSel=' || $3 || ', StopSel=' || $4 || ', MaxWords=16, MinWords=8, ShortWord=0, MaxFragments=1') AS snippet
               ${messageJoins} WHERE m.id = ANY(CAST($2 AS bigint[])) ORDER BY m.id DESC`,
  });

  return {
    /** Adds every message not yet in the index (SQLite); returns how many ids it covered. Run inside a transaction. */
    async catchUp(): Promise<number> {
      if (!indexing) return 0;
      const { through, newest, index, advance } = indexing;
      const after = (await through.value<number>()) ?? 0;
      const upto = (await newest.value<number | null>()) ?? 0;
      if (upto <= after) return 0;
      await index.run(after, upto);
      await advance.run(upto);
      return upto - after;
    },
    /**
     * Hits the reader can see (a member, after their clear point, not deleted, not from someone they
     * blocked), newest first, below `before`. At most `budget` matches are examined: a page may come
     * back short with a `next` to go on from. Snippets mark hits with `open` and `close` (plain ASCII).
     */
    async find(query: SearchQuery): Promise<SearchPage> {
      const match = postgres ? tsquery(query.terms) : fts5(query.terms);
      const found: number[] = [];
      let cursor = query.before ?? Number.MAX_SAFE_INTEGER;
      let examined = 0;
      let exhausted = false;
      while (found.length <= query.limit && examined < query.budget) {
        const ids = await candidates.values<number>(match, cursor, Math.min(chunk, query.budget - examined));
        examined += ids.length;
        if (ids.length === 0) {
          exhausted = true;
          break;
        }
        found.push(...(await visible.values<number>(sql.list(ids), query.reader, query.conversation)));
        cursor = ids.at(-1)!;
      }
      const page = found.slice(0, query.limit);
      const rows = [];
      if (postgres) {
        for (const row of page.length ? await hits.all(match, sql.list(page), query.open, query.close) : []) rows.push({ ...row, snippet: fromHeadline(row.snippet, row.content, query.open, query.close) });
      } else {
        for (const id of page) rows.push((await hits.get(match, id, query.open, query.close))!);
      }
      const next = found.length > query.limit ? page.at(-1)! : exhausted ? null : cursor;
      return { rows, next };
    },
  };
}

/**
 * ts_headline drops whatever its parser takes for an HTML tag (`<b>` in a message would vanish from
 * the snippet), so PostgreSQL gets the text with `&`, `<` and `>` escaped, which it keeps as they
 * are. This turns the snippet back into plain text, gives back what follows its last word up to the
 * next word (ts_headline leaves off trailing punctuation), and, like FTS5, puts `…` where it cut.
 */
function fromHeadline(headline: string, content: string, open: string, close: string): string {
  const snippet = headline.replace(/&(amp|lt|gt);/g, (_, name: string) => ({ amp: '&', lt: '<', gt: '>' })[name]!);
  const plain = snippet.replaceAll(open, '').replaceAll(close, '');
  const start = content.indexOf(plain);
  if (start === -1) return snippet;
  const end = start + plain.length;
  const tail = /^[^\p{L}\p{N}]*/u.exec(content.slice(end))![0].trimEnd();
  return `${start === 0 ? '' : '…'}${snippet}${tail}${end + tail.length >= content.trimEnd().length ? '' : '…'}`;
}
