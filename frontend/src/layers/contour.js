// Contour tiles layer: fetch tile grids for the viewport, fill d3-contour bands on canvas bitmaps,
// and draw them with the coarser level standing in until the finer tile is ready.
import { contours, geoPath } from 'd3';
import { LRU } from '../lib/lru.js';
import { drawPlan, tileBounds, tileKey } from '../lib/tiles.js';
import { mapToScreen } from '../lib/viewport.js';

const BITMAP_SIZE = 512;
const MAX_IN_FLIGHT = 6;

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

let hatchCanvas = null;
function hatchPattern(ctx) {
  if (!hatchCanvas) {
    hatchCanvas = document.createElement('canvas');
    hatchCanvas.width = 8; hatchCanvas.height = 8;
    const h = hatchCanvas.getContext('2d');
    h.fillStyle = '#e4e4e4'; h.fillRect(0, 0, 8, 8);
    h.strokeStyle = '#a8a8a8'; h.lineWidth = 1.5;
    h.beginPath(); h.moveTo(-2, 10); h.lineTo(10, -2); h.moveTo(-2, 2); h.lineTo(2, -2);
    h.moveTo(6, 10); h.lineTo(10, 6); h.stroke();
  }
  return ctx.createPattern(hatchCanvas, 'repeat');
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

/** Render one parsed tile into a bitmap: band 0 as background, one filled contour per threshold, then the mask. */
export function renderTileBitmap(parsed, scale, size = BITMAP_SIZE) {
  const { size: T, values } = parsed;
  const canvas = document.createElement('canvas');
  canvas.width = size; canvas.height = size;
  const ctx = canvas.getContext('2d');
  const toTile = () => { ctx.setTransform(size / T, 0, 0, size / T, 0, 0); ctx.translate(-1, -1); };
  toTile();
  ctx.fillStyle = scale.bandColours[0];
  ctx.fillRect(0, 0, T + 2, T + 2);
  const filled = parsed.masked > 0 ? fillMasked(values, T, 2, scale.domain[0] - 1) : values;
  const grid = padGrid(filled, T);
  const generator = contours().size([T + 2, T + 2]);
  const path = geoPath(null, ctx);
  scale.thresholds.forEach((threshold, i) => {
    const shape = generator.contour(grid, threshold);
    if (shape.coordinates.length === 0) return;
    ctx.beginPath(); path(shape);
    ctx.fillStyle = scale.bandColours[i + 1];
    ctx.fill();
  });
  if (parsed.masked > 0) {
    const mask = new Float64Array(T * T);
    for (let i = 0; i < mask.length; i += 1) mask[i] = Number.isNaN(values[i]) ? 1 : 0;
    const shape = generator.contour(padGrid(mask, T), 0.5);
    ctx.beginPath(); path(shape);
    // The path is fixed in bitmap pixels once added; fill with the pattern in unscaled pixels.
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = hatchPattern(ctx);
    ctx.fill();
  }
  return canvas;
}

/**
 * The contour layer. `source(...)` points it at a map; `draw(ctx, ...)` paints what is ready and
 * queues what is missing; `onChange(fn)` is called when new tiles become drawable.
 */
export function contourLayer({ fetchTile }) {
  const data = new LRU(256);      // key → parsed tile
  const bitmaps = new LRU(96);    // key → canvas
  const failed = new Map();       // key → message
  let inFlight = new Map();       // key → AbortController
  let queue = [];
  let renderQueue = [];
  let renderScheduled = false;
  let src = null;
  let generation = 0;
  let changed = () => {};
  let errored = () => {};
  let last = { z: 0, needed: [], drawnSources: [], fallback: 0 };

  const layer = {};

  layer.onChange = (fn) => { changed = fn; return layer; };
  layer.onError = (fn) => { errored = fn; return layer; };

  layer.source = (next) => {
    generation += 1;
    for (const ctrl of inFlight.values()) ctrl.abort();
    inFlight = new Map();
    data.clear(); bitmaps.clear(); failed.clear();
    queue = []; renderQueue = [];
    src = next;
    return layer;
  };

  function pump() {
    while (src && inFlight.size < MAX_IN_FLIGHT && queue.length > 0) {
      const tile = queue.shift();
      if (data.has(tile.key) || inFlight.has(tile.key) || failed.has(tile.key)) continue;
      const ctrl = new AbortController();
      const gen = generation;
      inFlight.set(tile.key, ctrl);
      fetchTile(src.dataset, src.metric, tile.z, tile.x, tile.y, { signal: ctrl.signal })
        .then((response) => {
          if (gen !== generation) return;
          data.set(tile.key, parseTile(response));
          renderQueue.push(tile.key);
          scheduleRender();
        })
        .catch((err) => {
          if (gen !== generation || err.name === 'AbortError') return;
          failed.set(tile.key, err.message);
          errored(err);
        })
        .finally(() => {
          if (gen === generation) { inFlight.delete(tile.key); pump(); changed(); }
        });
    }
  }

  function scheduleRender() {
    if (renderScheduled) return;
    renderScheduled = true;
    const run = () => {
      renderScheduled = false;
      const started = performance.now();
      while (renderQueue.length > 0 && performance.now() - started < 12) {
        const key = renderQueue.shift();
        const parsed = data.peek(key);
        if (parsed && !bitmaps.has(key) && src) bitmaps.set(key, renderTileBitmap(parsed, src.scale));
      }
      changed();
      if (renderQueue.length > 0) scheduleRender();
    };
    requestAnimationFrame(run);
  }

  /** Ask for the needed tiles (centre first) and their parents, so a fallback is always on its way. */
  function request(needed, centre) {
    const dist = (t) => {
      const [x0, y0, x1, y1] = tileBounds(t.z, t.x, t.y);
      return Math.hypot((x0 + x1) / 2 - centre[0], (y0 + y1) / 2 - centre[1]);
    };
    const wanted = [...needed].sort((a, b) => dist(a) - dist(b));
    for (const t of needed) {
      if (bitmaps.has(t.key)) continue;
      if (data.has(t.key) && !renderQueue.includes(t.key)) { renderQueue.push(t.key); scheduleRender(); }
    }
    queue = wanted.filter((t) => !data.has(t.key) && !inFlight.has(t.key) && !failed.has(t.key));
    if (!bitmaps.has(tileKey(0, 0, 0)) && !data.has('0/0/0')) queue.unshift({ z: 0, x: 0, y: 0, key: '0/0/0' });
    // Cancel fetches of tiles no longer in view (keep level 0, the fallback of last resort).
    const neededKeys = new Set(needed.map((t) => t.key));
    for (const [key, ctrl] of inFlight) {
      if (key !== '0/0/0' && !neededKeys.has(key)) { ctrl.abort(); inFlight.delete(key); }
    }
    pump();
  }

  /**
   * Draw onto ctx (device pixels). needed: tiles of the current level in view.
   * Tile edges are rounded to device pixels so neighbours meet without seams.
   */
  layer.draw = (ctx, t, vp, dpr, needed, centre) => {
    if (!src) return layer;
    request(needed, centre);
    const ops = drawPlan(needed, (key) => bitmaps.has(key));
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.imageSmoothingEnabled = true;
    const sources = new Set();
    let fallback = 0;
    for (const { source, target } of ops) {
      const bmp = bitmaps.peek(source.key);
      const sb = tileBounds(source.z, source.x, source.y);
      const tb = tileBounds(target.z, target.x, target.y);
      const w = sb[2] - sb[0];
      const R = bmp.width;
      const sx = ((tb[0] - sb[0]) / w) * R;
      const sy = ((tb[1] - sb[1]) / w) * R;
      const sw = ((tb[2] - tb[0]) / w) * R;
      const [ax, ay] = mapToScreen(t, vp, tb[0], tb[1]);
      const [bx, by] = mapToScreen(t, vp, tb[2], tb[3]);
      const dx0 = Math.round(ax * dpr); const dy0 = Math.round(ay * dpr);
      const dx1 = Math.round(bx * dpr); const dy1 = Math.round(by * dpr);
      ctx.drawImage(bmp, sx, sy, sw, sw, dx0, dy0, dx1 - dx0, dy1 - dy0);
      sources.add(source.key);
      if (source.key !== target.key) fallback += 1;
    }
    ctx.restore();
    last = { z: needed.length ? needed[0].z : 0, needed: needed.map((n) => n.key), drawnSources: [...sources], fallback };
    return layer;
  };

  /** Estimated metric at map point (x, y) from the finest loaded tile: number, NaN if masked, null if unknown. */
  layer.valueAt = (x, y, zMax) => {
    for (let z = zMax; z >= 0; z -= 1) {
      const n = 2 ** z;
      const tx = Math.min(n - 1, Math.floor(x * n));
      const ty = Math.min(n - 1, Math.floor(y * n));
      const parsed = data.peek(tileKey(z, tx, ty));
      if (!parsed) continue;
      const T = parsed.size;
      const c = Math.min(T - 1, Math.max(0, Math.floor((x * n - tx) * T)));
      const r = Math.min(T - 1, Math.max(0, Math.floor((y * n - ty) * T)));
      return parsed.values[r * T + c];
    }
    return null;
  };

  /** What was drawn last (for the test hook and the status line). */
  layer.stats = () => ({
    z: last.z,
    needed: last.needed,
    drawnSources: last.drawnSources,
    fallbackOps: last.fallback,
    loadedTiles: data.size,
    readyTiles: bitmaps.size,
    pending: inFlight.size + queue.length + renderQueue.length,
    failed: failed.size,
  });

  return layer;
}
