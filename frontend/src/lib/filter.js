// Keyword-bar filters: bars of one keyword add up (union); different keywords narrow (intersection).

/** Key of one bar, as kept in state.filter. */
export function barKey(keyword, bin) {
  return `${keyword}\u0000${bin}`;
}

/** Toggle a bar in a filter list (returns a new list). */
export function toggleBar(filter, keyword, bin) {
  const exists = filter.some((f) => f.keyword === keyword && f.bin === bin);
  return exists
    ? filter.filter((f) => !(f.keyword === keyword && f.bin === bin))
    : [...filter, { keyword, bin }];
}

/**
 * Rows passing the filter given a selection response, or null when no bar is chosen.
 * Throws when a bar names a keyword or bin the selection does not have.
 */
export function filterRows(selection, filter) {
  if (!filter || filter.length === 0) return null;
  const keywords = new Map((selection?.keywords?.keywords ?? []).map((k) => [k.keyword, k]));
  const byKeyword = new Map();
  for (const { keyword, bin } of filter) {
    const kw = keywords.get(keyword);
    if (!kw || !kw.bins[bin]) throw new RangeError(`filter: no bar ${bin} for keyword "${keyword}"`);
    if (!byKeyword.has(keyword)) byKeyword.set(keyword, new Set());
    for (const r of kw.bins[bin].rows) byKeyword.get(keyword).add(r);
  }
  let result = null;
  for (const rows of byKeyword.values()) {
    result = result === null ? rows : new Set([...result].filter((r) => rows.has(r)));
  }
  return result;
}
