// Spatial index over the drawn points, for hover and click hit-testing without a scan: a uniform
// grid filled by a counting sort, so a million points index in tens of milliseconds (a quadtree
// of objects took seconds, and the first hover froze the page).

const PER_CELL = 4;      // points per cell on average
const MAX_SIDE = 2048;   // cells per side, at most

/** [x0, y0, x1, y1] of the first n points (±Infinity when n is 0), one pass without allocating. */
export function extentOf(xs, ys, n = xs.length) {
  let x0 = Infinity; let y0 = Infinity; let x1 = -Infinity; let y1 = -Infinity;
  for (let i = 0; i < n; i += 1) {
    if (xs[i] < x0) x0 = xs[i];
    if (xs[i] > x1) x1 = xs[i];
    if (ys[i] < y0) y0 = ys[i];
    if (ys[i] > y1) y1 = ys[i];
  }
  return [x0, y0, x1, y1];
}

/**
 * Index point arrays (map coordinates). `find(x, y, radius)` returns the index of the nearest point
 * closer than radius, or -1.
 */
export function makePointIndex(xs, ys) {
  if (xs.length !== ys.length) throw new RangeError('makePointIndex: xs and ys must have the same length');
  const n = xs.length;
  const [x0, y0, x1, y1] = extentOf(xs, ys, n);
  const side = Math.max(1, Math.min(MAX_SIDE, Math.ceil(Math.sqrt(n / PER_CELL))));
  const sx = side / Math.max(x1 - x0, 1e-12);
  const sy = side / Math.max(y1 - y0, 1e-12);
  const col = (x) => Math.min(side - 1, Math.max(0, Math.floor((x - x0) * sx)));
  const row = (y) => Math.min(side - 1, Math.max(0, Math.floor((y - y0) * sy)));
  const cellOf = new Int32Array(n);
  const starts = new Int32Array(side * side + 1);
  for (let i = 0; i < n; i += 1) { cellOf[i] = row(ys[i]) * side + col(xs[i]); starts[cellOf[i] + 1] += 1; }
  for (let c = 0; c < side * side; c += 1) starts[c + 1] += starts[c];
  const order = new Int32Array(n);
  const fill = starts.slice(0, side * side);
  for (let i = 0; i < n; i += 1) { order[fill[cellOf[i]]] = i; fill[cellOf[i]] += 1; }
  return {
    size: n,
    find(x, y, radius) {
      if (n === 0 || x + radius < x0 || x - radius > x1 || y + radius < y0 || y - radius > y1) return -1;
      let best = -1;
      let bestD2 = radius * radius;
      const c0 = col(x - radius); const c1 = col(x + radius);
      for (let r = row(y - radius), r1 = row(y + radius); r <= r1; r += 1) {
        for (let k = starts[r * side + c0], end = starts[r * side + c1 + 1]; k < end; k += 1) {
          const i = order[k];
          const dx = xs[i] - x; const dy = ys[i] - y;
          const d2 = dx * dx + dy * dy;
          if (d2 < bestD2) { bestD2 = d2; best = i; }
        }
      }
      return best;
    },
  };
}
