// Contour tiles as data: a tile response parsed into a grid, the estimate at a map point, and the
// geometry of a grid (filled bands per threshold and the masked region, as GeoJSON MultiPolygons in
// tile-cell coordinates). Pure, so it runs in a worker or inline.
import { contours } from 'd3';
import { tileKey } from '../lib/tiles.js';

/** Flatten a tile response's rows (null = masked) into a Float32Array with NaN for masked cells. */
export function parseTile(tile) {
  const size = tile.size;
  if (!Number.isInteger(size) || !Array.isArray(tile.values) || tile.values.length !== size) {
    throw new Error(`contour tile ${tile.z}/${tile.x}/${tile.y}: expected ${size} rows of ${size} values`);
  }
  const out = new Float32Array(size * size);
  let masked = 0;
  for (let r = 0; r < size; r += 1) {
    const row = tile.values[r];
    for (let c = 0; c < size; c += 1) {
      const v = row[c];
      if (v === null || v === undefined) { out[r * size + c] = NaN; masked += 1; } else out[r * size + c] = v;
    }
  }
  return { size, values: out, masked };
}

/**
 * The estimate at map point (x, y) from the finest parsed tile `tileAt(key)` has, from level zMax
 * down: a number, NaN if masked, null if no tile covering the point is loaded.
 */
export function valueAt(tileAt, x, y, zMax) {
  for (let z = zMax; z >= 0; z -= 1) {
    const n = 2 ** z;
    const tx = Math.min(n - 1, Math.floor(x * n));
    const ty = Math.min(n - 1, Math.floor(y * n));
    const parsed = tileAt(tileKey(z, tx, ty));
    if (!parsed) continue;
    const T = parsed.size;
    const c = Math.min(T - 1, Math.max(0, Math.floor((x * n - tx) * T)));
    const r = Math.min(T - 1, Math.max(0, Math.floor((y * n - ty) * T)));
    return parsed.values[r * T + c];
  }
  return null;
}

/** Masked cells (NaN) take the mean of valid neighbours for a few passes, so band edges meet the mask cleanly. */
export function fillMasked(values, size, passes = 2, fallback = 0) {
  let cur = Float64Array.from(values);
  for (let pass = 0; pass < passes; pass += 1) {
    const next = Float64Array.from(cur);
    for (let r = 0; r < size; r += 1) {
      for (let c = 0; c < size; c += 1) {
        const i = r * size + c;
        if (!Number.isNaN(cur[i])) continue;
        let sum = 0; let n = 0;
        for (let dr = -1; dr <= 1; dr += 1) {
          for (let dc = -1; dc <= 1; dc += 1) {
            const rr = r + dr; const cc = c + dc;
            if (rr < 0 || cc < 0 || rr >= size || cc >= size) continue;
            const v = cur[rr * size + cc];
            if (!Number.isNaN(v)) { sum += v; n += 1; }
          }
        }
        if (n > 0) next[i] = sum / n;
      }
    }
    cur = next;
  }
  for (let i = 0; i < cur.length; i += 1) if (Number.isNaN(cur[i])) cur[i] = fallback;
  return cur;
}

/** The grid with one extra ring of cells copying its edge, so contours run past the tile edge (no cut corners). */
export function padGrid(grid, size) {
  const n = size + 2;
  const out = new Float64Array(n * n);
  for (let r = 0; r < n; r += 1) {
    const rr = Math.min(size - 1, Math.max(0, r - 1));
    for (let c = 0; c < n; c += 1) {
      const cc = Math.min(size - 1, Math.max(0, c - 1));
      out[r * n + c] = grid[rr * size + cc];
    }
  }
  return out;
}

/**
 * Bands and mask of a T×T tile (NaN = masked). Coordinates are in padded-grid units: subtract 1
 * to get tile cells. Returns {bands: [MultiPolygon per threshold], mask: MultiPolygon | null}.
 */
export function tileGeometry(values, size, thresholds, below) {
  let masked = 0;
  for (let i = 0; i < values.length; i += 1) if (Number.isNaN(values[i])) masked += 1;
  const filled = masked > 0 ? fillMasked(values, size, 2, below) : values;
  const generator = contours().size([size + 2, size + 2]);
  const grid = padGrid(filled, size);
  const bands = thresholds.map((t) => generator.contour(grid, t));
  let mask = null;
  if (masked > 0) {
    const m = new Float64Array(size * size);
    for (let i = 0; i < m.length; i += 1) m[i] = Number.isNaN(values[i]) ? 1 : 0;
    mask = generator.contour(padGrid(m, size), 0.5);
  }
  return { bands, mask };
}
