// What a search answer becomes on the map and in the keyword view: the highlight the overview draws
// (the matches' rows) and, on "select these", the ids the keyword view asks about.

/** Most matches a "select these" sends (the selection body cap holds about 25,000 ids). */
export const MAX_SELECT = 20000;

/** The label of a search's highlight, e.g. `text "red st"` or `meaning "a dog" ≥ 0.45`. */
export function searchLabel({ q, mode, minScore }) {
  return mode === 'semantic' ? `meaning "${q}" ≥ ${Number(minScore).toFixed(2)}` : `text "${q}"`;
}

/**
 * The `highlight` state for an answer holding every match's rows (and ids): the rows, so the map
 * greys the rest, and `matchIds` (the best-ranked MAX_SELECT), which the export takes; with `select`,
 * also `ids`, which the keyword view turns into a selection.
 */
export function searchHighlight(answer, query, { select = false } = {}) {
  if (!answer || !Array.isArray(answer.rows)) throw new Error('searchHighlight: the answer has no rows');
  const highlight = { label: searchLabel(query), rows: answer.rows, source: 'search' };
  // The matches' ids go with the highlight for the export either way; `ids` (what makes a selection)
  // only on "select these".
  if (Array.isArray(answer.ids)) highlight.matchIds = answer.ids.slice(0, MAX_SELECT);
  if (select) {
    if (!Array.isArray(answer.ids)) throw new Error('searchHighlight: selecting needs the ids');
    highlight.ids = highlight.matchIds;
  }
  return highlight;
}

/** The count line: "123 matches" (semantic: "... of the 10,000 nearest" when capped). */
export function countText(answer, fmt = String) {
  if (!answer) return '';
  const word = answer.count === 1 ? 'match' : 'matches';
  const capped = answer.capped ? ` (among the ${fmt(answer.max_results)} nearest)` : '';
  return `${fmt(answer.count)} ${word}${capped}`;
}
