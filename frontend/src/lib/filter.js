// Keyword-bar filters: bars of one keyword add up (union); different keywords narrow (intersection).
// A selection carries a sample of its items (all of them when small) and, per keyword, the bar of
// each sampled item; filters pick among the sample and scale the count to the whole selection.

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
 * Items passing the filter, or null when no bar is chosen: `rows` (a Set of the sampled items'
 * rows that match), `estimate` (matches in the whole selection: exact unless the sample is one)
 * and `sampled`. Throws when a bar names a keyword or bin the selection does not have.
 */
export function filterMatches(selection, filter) {
  if (!filter || filter.length === 0) return null;
  const keywords = new Map((selection?.keywords?.keywords ?? []).map((k) => [k.keyword, k]));
  const chosen = new Map();
  for (const { keyword, bin } of filter) {
    const kw = keywords.get(keyword);
    if (!kw || !kw.bins[bin]) throw new RangeError(`filter: no bar ${bin} for keyword "${keyword}"`);
    if (!chosen.has(kw)) chosen.set(kw, new Set());
    chosen.get(kw).add(bin);
  }
  const sample = selection.sample;
  const groups = [...chosen.entries()];
  const rows = new Set();
  for (let i = 0; i < sample.row.length; i += 1) {
    if (groups.every(([kw, bins]) => bins.has(kw.bin_of[i]))) rows.add(sample.row[i]);
  }
  const estimate = sample.sampled && sample.size > 0 ? Math.round((rows.size * selection.count) / sample.size) : rows.size;
  return { rows, estimate, sampled: Boolean(sample.sampled) };
}
