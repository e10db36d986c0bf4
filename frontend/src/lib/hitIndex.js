// Hit-testing what the overview drew: one quadtree over the drawn chunks (and the highlighted
// rows of the highlight chunk), rebuilt only when that set changes.
import { makePointIndex } from './spatial.js';

/**
 * Index point chunks; `keepRows` (a Set) limits `extra` to its highlighted rows.
 * `find(x, y, radius)` returns {id, row, x, y, value} of the nearest point within radius, or null.
 */
export function buildHitIndex(chunks, extra = null, keepRows = null) {
  const parts = chunks.map((c) => ({ c, keep: null }));
  if (extra && keepRows) {
    const keep = [];
    for (let i = 0; i < extra.n; i += 1) if (keepRows.has(extra.row[i])) keep.push(i);
    parts.push({ c: extra, keep });
  }
  const n = parts.reduce((sum, p) => sum + (p.keep ? p.keep.length : p.c.n), 0);
  const xs = new Float32Array(n); const ys = new Float32Array(n);
  const part = new Uint16Array(n); const local = new Int32Array(n);
  let o = 0;
  parts.forEach(({ c, keep }, pi) => {
    const m = keep ? keep.length : c.n;
    for (let j = 0; j < m; j += 1) {
      const i = keep ? keep[j] : j;
      xs[o] = c.x[i]; ys[o] = c.y[i]; part[o] = pi; local[o] = i; o += 1;
    }
  });
  const tree = makePointIndex(xs, ys);
  return {
    chunks, extra, keepRows, size: n,
    find(x, y, radius) {
      const hit = tree.find(x, y, radius);
      if (hit < 0) return null;
      const c = parts[part[hit]].c;
      const i = local[hit];
      return { id: c.id.at(i), row: c.row[i], x: c.x[i], y: c.y[i], value: c.value[i] };
    },
  };
}

/** Whether an index was built for exactly these chunks and highlight. */
export function indexMatches(index, chunks, extra, keepRows) {
  return Boolean(index) && index.extra === extra && index.keepRows === keepRows
    && index.chunks.length === chunks.length && index.chunks.every((c, i) => c === chunks[i]);
}
