// Well-formed text: JSON may carry a lone surrogate (`"\ud800"`), which UTF-8 cannot hold; it would be
// stored as U+FFFD, so what was acknowledged would not be what was stored. Such text is refused at the edge.

const unpaired = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** The first lone surrogate in a string, as hex (`d800`), or undefined when the text is well formed. */
export function loneSurrogateIn(text: string): string | undefined {
  const at = text.search(unpaired);
  return at === -1 ? undefined : text.charCodeAt(at).toString(16);
}

/** The first lone surrogate in any string (or key) of a parsed JSON value; `raw` is its text, to skip the walk when it has no such escape. */
export function loneSurrogateInJson(raw: string, value: unknown): string | undefined {
  if (!/\\u[dD][89a-fA-F]/.test(raw)) return undefined;
  const visit = (item: unknown): string | undefined => {
    if (typeof item === 'string') return loneSurrogateIn(item);
    if (typeof item !== 'object' || item === null) return undefined;
    for (const inner of Array.isArray(item) ? item : [...Object.keys(item), ...Object.values(item)]) {
      const found = visit(inner);
      if (found) return found;
    }
    return undefined;
  };
  return visit(value);
}
