// Contour tiles layer: fetch tile grids for the viewport, fill d3-contour bands on canvas bitmaps,
// and draw them with the coarser level standing in until the finer tile is ready.
import { geoPath } from 'd3';
import { tileGeometry } from './contourGeometry.js';
import { LRU } from '../lib/lru.js';
import { drawPlan, tileBounds, tileKey } from '../lib/tiles.js';
import { mapToScreen } from '../lib/viewport.js';

const BITMAP_SIZE = 512;
const MAX_IN_FLIGHT = 6;

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

/** Paint a tile's geometry into a bitmap: band 0 as background, one fill per band, then the hatched mask. */
export function paintTileBitmap(geometry, T, scale, size = BITMAP_SIZE) {
  const canvas = document.createElement('canvas');
  canvas.width = size; canvas.height = size;
  const ctx = canvas.getContext('2d');
  ctx.setTransform(size / T, 0, 0, size / T, 0, 0);
  ctx.translate(-1, -1); // geometry is in padded-grid units
  ctx.fillStyle = scale.bandColours[0];
  ctx.fillRect(0, 0, T + 2, T + 2);
  const path = geoPath(null, ctx);
  geometry.bands.forEach((shape, i) => {
    if (shape.coordinates.length === 0) return;
    ctx.beginPath(); path(shape);
    ctx.fillStyle = scale.bandColours[i + 1];
    ctx.fill();
  });
  if (geometry.mask && geometry.mask.coordinates.length > 0) {
    ctx.beginPath(); path(geometry.mask);
    // The path is fixed in bitmap pixels once added; fill with the pattern in unscaled pixels.
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = hatchPattern(ctx);
    ctx.fill();
  }
  return canvas;
}

let sharedService = null;

/** One geometry service for every contour layer of the page. */
function geometryService() {
  if (!sharedService) sharedService = makeGeometryService();
  return sharedService;
}

/** Contour geometry in a worker when the browser has one, else inline. Returns compute(parsed, scale) → Promise. */
function makeGeometryService() {
  let worker = null;
  try {
    worker = new Worker(new URL('./contourWorker.js', import.meta.url), { type: 'module' });
  } catch {
    worker = null;
  }
  const waiting = new Map();
  let next = 0;
  if (worker) {
    worker.onmessage = (event) => {
      const { id, geometry, error } = event.data;
      const job = waiting.get(id);
      waiting.delete(id);
      if (!job) return;
      if (error) job.reject(new Error(`contour worker: ${error}`)); else job.resolve(geometry);
    };
    worker.onerror = () => { worker = null; };
  }
  return (parsed, scale) => {
    const below = scale.domain[0] - 1;
    if (!worker) return Promise.resolve(tileGeometry(parsed.values, parsed.size, scale.thresholds, below));
    const id = next += 1;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      worker.postMessage({ id, values: parsed.values, size: parsed.size, thresholds: scale.thresholds, below });
    });
  };
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
  const shapes = new LRU(256);    // key → contour geometry
  const computing = new Set();    // keys whose geometry is being computed
  const computeGeometry = geometryService();
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
    data.clear(); bitmaps.clear(); failed.clear(); shapes.clear(); computing.clear();
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
          requestGeometry(tile.key);
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

  function requestGeometry(key) {
    const parsed = data.peek(key);
    if (!parsed || shapes.has(key) || computing.has(key) || !src) return;
    computing.add(key);
    const gen = generation;
    computeGeometry(parsed, src.scale).then((geometry) => {
      if (gen !== generation) return;
      computing.delete(key);
      shapes.set(key, geometry);
      renderQueue.push(key);
      scheduleRender();
    }).catch((err) => {
      if (gen !== generation) return;
      computing.delete(key);
      failed.set(key, err.message);
      errored(err);
      changed();
    });
  }

  function scheduleRender() {
    if (renderScheduled) return;
    renderScheduled = true;
    const run = () => {
      renderScheduled = false;
      const started = performance.now();
      while (renderQueue.length > 0 && performance.now() - started < 12) {
        const key = renderQueue.shift();
        const geometry = shapes.peek(key);
        const parsed = data.peek(key);
        if (geometry && parsed && !bitmaps.has(key) && src) bitmaps.set(key, paintTileBitmap(geometry, parsed.size, src.scale));
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
      if (shapes.has(t.key)) {
        if (!renderQueue.includes(t.key)) { renderQueue.push(t.key); scheduleRender(); }
      } else if (data.has(t.key)) requestGeometry(t.key);
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
    pending: inFlight.size + queue.length + computing.size + renderQueue.length,
    failed: failed.size,
  });

  return layer;
}
