// Storable text: JSON may carry a lone surrogate (`"\ud800"`), which UTF-8 cannot hold; it would be
// stored as U+FFFD, so what was acknowledged would not be what was stored. It may also carry NUL
// (`"\u0000"`), which PostgreSQL's text cannot hold at all. Both are refused at the edge, on every engine.

const unpaired = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The first lone surrogate in a string, as hex (`d800`), or undefined when the text is well formed. */
export function loneSurrogateIn(text: string): string | undefined {
  const at = text.search(unpaired);
  return at === -1 ? undefined : text.charCodeAt(at).toString(16);
}

/** What makes a string unstorable: a lone surrogate (as hex, `d800`), `nul`, or undefined when it is fine. */
export function unstorableIn(text: string): string | undefined {
  return text.includes('\0') ? 'nul' : loneSurrogateIn(text);
}

/**
 * The first unstorable string (or key) of a parsed JSON value, as unstorableIn says; `raw` is its text,
 * to skip the walk when it has no such escape.
 */
export function unstorableInJson(raw: string, value: unknown): string | undefined {
  if (!/\\u([dD][89a-fA-F]|0000)/.test(raw)) return undefined;
  const visit = (item: unknown): string | undefined => {
    if (typeof item === 'string') return unstorableIn(item);
    if (typeof item !== 'object' || item === null) return undefined;
    for (const inner of Array.isArray(item) ? item : [...Object.keys(item), ...Object.values(item)]) {
      const found = visit(inner);
      if (found) return found;
    }
    return undefined;
  };
  return visit(value);
}
