// What a map emphasises: the items a keyword filter keeps, a SPEC cluster, or the items selected on
// the other map; the rows to ring, the label and count for the status line, and their positions.
import { filterMatches } from '../lib/filter.js';
import { fmtCount } from '../lib/format.js';
import { toChunk } from '../lib/pointStore.js';
import { rowPoints } from '../lib/rowPoints.js';

/**
 * The highlight of map `slot` in state `s`: {rows (a Set), label, count (as shown)}, or null when
 * nothing is highlighted. Throws when the filter names a bar the selection does not have.
 */
export function highlightOf(s, slot) {
  const matches = filterMatches(s.selection, s.filter);
  if (matches) {
    const count = matches.sampled
      ? `≈${fmtCount(matches.estimate)} (${fmtCount(matches.rows.size)} of a ${fmtCount(s.selection.sample.size)}-item sample shown)`
      : fmtCount(matches.estimate);
    return { rows: matches.rows, label: 'filtered items', count };
  }
  if (s.highlight) {
    const rows = new Set(s.highlight.rows);
    return { rows, label: s.highlight.label, count: fmtCount(rows.size) };
  }
  if (s.selection && s.selectionSource === 'lasso' && s.lassoSlot !== slot) {
    const { sample } = s.selection;
    const count = sample.sampled ? `${fmtCount(s.selection.count)} (${fmtCount(sample.size)} sampled shown)` : fmtCount(s.selection.count);
    return { rows: new Set(sample.row), label: 'selected on the other map', count };
  }
  return null;
}

/**
 * The highlight of one map (`slot`), kept up to date by `update(s, prev)` from its sub-store's
 * states. `rows()`, `label()`, `count()` and `chunk()` (positions of the highlighted items, or null
 * while they load) read it; `onChange(fn)` follows newly loaded positions; `onError(fn)` failures.
 */
export function mapHighlight(api, slot) {
  let rows = null;
  let label = '';
  let count = '';
  let chunk = null;
  let token = 0;
  let changed = () => {};
  let errored = () => {};
  const hl = {};

  hl.onChange = (fn) => { changed = fn; return hl; };
  hl.onError = (fn) => { errored = fn; return hl; };
  hl.rows = () => rows;
  hl.label = () => label;
  hl.count = () => count;
  hl.chunk = () => chunk;
  /** Forget the highlight (a new map). */
  hl.reset = () => { rows = null; chunk = null; return hl; };

  // The lasso's own map has the positions in the selection's sample; other items (a SPEC cluster,
  // a selection made on the other map) are looked up by row.
  function useSelectionSample(s) {
    token += 1;
    chunk = s.selection ? toChunk({ points: s.selection.sample }, [0, 0, 1, 1], 'selection') : null;
  }
  async function loadRows(s, wanted) {
    const my = ++token;
    chunk = null;
    if (!wanted || !s.mapInfo) return;
    try {
      const loaded = await rowPoints(api, s, wanted);
      if (my === token) { chunk = loaded; changed(); }
    } catch (err) { errored(err); }
  }

  /** Follow a change of state; returns whether the highlighted rows were worked out again. */
  hl.update = (s, prev) => {
    const recoloured = s.colourBy !== prev.colourBy;
    if ((s.highlight !== prev.highlight || recoloured) && s.highlight) loadRows(s, s.highlight.rows);
    if ((s.selection !== prev.selection || recoloured) && s.selectionSource === 'lasso') {
      // The selection's sample carries no colour column: coloured by one, its points are looked up.
      if (s.lassoSlot === slot && !s.colourBy) useSelectionSample(s);
      else if (s.selection) loadRows(s, s.selection.sample.row);
      else chunk = null;
    }
    if (s.selection === prev.selection && s.filter === prev.filter && s.highlight === prev.highlight
      && s.mode === prev.mode && s.mapInfo === prev.mapInfo && !recoloured) return false;
    try {
      const found = highlightOf(s, slot);
      rows = found ? found.rows : null;
      if (found) ({ label, count } = found);
    } catch (err) { rows = null; errored(err); }
    return true;
  };
  return hl;
}
