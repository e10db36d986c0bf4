// Column filters as the API takes them (`filters`: ANDed, one entry per column here) and what the
// distributions panel changes in them. Pure: every function returns a new list.

/** The list with `column`'s filter replaced by `next` (or removed when `next` is null). */
export function setColumnFilter(filters, column, next) {
  const rest = (filters ?? []).filter((f) => f.column !== column);
  return next ? [...rest, { ...next, column }] : rest;
}

/** The filter of `column`, or null. */
export function filterOf(filters, column) {
  return (filters ?? []).find((f) => f.column === column) ?? null;
}

/** A range filter from a brushed extent [a, b] (either order); null for an empty extent. */
export function rangeFilter(column, a, b) {
  if (!Number.isFinite(a) || !Number.isFinite(b) || a === b) return null;
  return { column, range: [Math.min(a, b), Math.max(a, b)] };
}

/**
 * A category filter from the ticked values (strings, null for missing) and the "other" bar;
 * null when nothing is ticked (no filter on the column).
 */
export function inFilter(column, ticked, other) {
  if (!ticked.length && !other) return null;
  return { column, in: [...ticked], other: Boolean(other) };
}

/** Toggle one category value (or the "other" bar, `value` = OTHER) in the column's filter. */
export const OTHER = Symbol('other');
export function toggleValue(filters, column, value) {
  const f = filterOf(filters, column);
  const ticked = f?.in ?? [];
  let other = Boolean(f?.other);
  let next = ticked;
  if (value === OTHER) other = !other;
  else next = ticked.includes(value) ? ticked.filter((v) => v !== value) : [...ticked, value];
  return setColumnFilter(filters, column, inFilter(column, next, other));
}

/** A contains filter for text; null for blank text. */
export function containsFilter(column, text) {
  const t = (text ?? '').trim();
  return t ? { column, contains: t.slice(0, 200) } : null;
}

/** A short description of one filter, for the list of active filters. */
export function describeFilter(f, fmt = String) {
  if (f.range) return `${f.column} ${fmt(f.range[0], f.column)} … ${fmt(f.range[1], f.column)}`;
  if (f.in) return `${f.column} in ${[...f.in.map((v) => (v === null ? 'missing' : String(v))), ...(f.other ? ['other'] : [])].join(', ')}`;
  return `${f.column} contains “${f.contains}”`;
}
