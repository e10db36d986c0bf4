// Point tiles: the points endpoint queried per tile and cached, so panning reuses what was loaded.
// Every point (sampling 'all', the scatter mode) comes in one Arrow answer per tile of the zoom's
// level, and a tile answered in full holds all its area's points: at a million items the whole map
// is one request at the first paint, and zooming and panning never fetch again.
import { LRU } from './lru.js';
import { fetchQueue } from './fetchQueue.js';
import { childrenOf, drawPlan, parentOf, tileBounds, tileKey } from './tiles.js';

const LIMIT = 200000;        // points per sampled (overlay) tile
const ALL_LIMIT = 5000000;    // points per 'all' tile: above it the server sends an even sample, finer tiles the rest
const MAX_POINTS = 12000000; // points cached, at most (about 30 bytes each in the page)

/**
 * Columnar points response → typed arrays, keeping only points in the tile's half-open box. The
 * columns may be JSON arrays or the typed arrays of an Arrow answer (used as they are when every point
 * is kept); `id` is anything with `at(i)` (an array, or an Arrow utf8 column decoding on demand).
 */
export function toChunk(response, bounds, key) {
  const p = response.points;
  const n = p.x.length;
  const [x0, y0, x1, y1] = bounds;
  const keep = new Int32Array(n);
  let m = 0;
  for (let i = 0; i < n; i += 1) {
    const x = p.x[i]; const y = p.y[i];
    const inX = x >= x0 && (x < x1 || (x1 >= 1 && x <= x1));
    const inY = y >= y0 && (y < y1 || (y1 >= 1 && y <= y1));
    if (inX && inY) { keep[m] = i; m += 1; }
  }
  const meta = { key, n: m, totalInView: response.total_in_view ?? m, capped: Boolean(response.capped) };
  if (response.colour) meta.colourInfo = response.colour;
  if (m === n && p.x instanceof Float32Array && p.y instanceof Float32Array && p.value instanceof Float32Array
      && p.row instanceof Int32Array && !Array.isArray(p.id) && (!p.colour || p.colour instanceof Float64Array)
      && (!p.passes || p.passes instanceof Uint8Array)) {
    return { ...meta, x: p.x, y: p.y, value: p.value, row: p.row, id: p.id, ...(p.colour ? { colour: p.colour } : {}), ...(p.passes ? { passes: p.passes } : {}) };
  }
  const chunk = { ...meta, x: new Float32Array(m), y: new Float32Array(m), value: new Float32Array(m), row: new Int32Array(m), id: new Array(m) };
  for (let j = 0; j < m; j += 1) {
    const i = keep[j];
    chunk.x[j] = p.x[i]; chunk.y[j] = p.y[i];
    chunk.value[j] = p.value[i] === null ? NaN : p.value[i];
    chunk.row[j] = p.row[i]; chunk.id[j] = String(p.id.at(i));
  }
  if (p.passes) {
    chunk.passes = new Uint8Array(m);
    for (let j = 0; j < m; j += 1) chunk.passes[j] = p.passes[keep[j]] ? 1 : 0;
  }
  if (p.colour) {
    chunk.colour = new Float64Array(m);
    for (let j = 0; j < m; j += 1) { const v = p.colour[keep[j]]; chunk.colour[j] = v === null ? NaN : v; }
  }
  return chunk;
}

/** Concatenate chunks into one (used when a capped tile was split into its children). */
export function mergeChunks(chunks, key) {
  const n = chunks.reduce((s, c) => s + c.n, 0);
  const out = {
    key, n, x: new Float32Array(n), y: new Float32Array(n), value: new Float32Array(n),
    row: new Int32Array(n), id: new Array(n),
    totalInView: chunks.reduce((s, c) => s + c.totalInView, 0), capped: chunks.some((c) => c.capped),
  };
  if (chunks.length && chunks.every((c) => c.passes)) out.passes = new Uint8Array(n);
  if (chunks.length && chunks.every((c) => c.colour)) {
    out.colour = new Float64Array(n);
    out.colourInfo = chunks[0].colourInfo;
  }
  let o = 0;
  for (const c of chunks) {
    out.x.set(c.x, o); out.y.set(c.y, o); out.value.set(c.value, o); out.row.set(c.row, o);
    if (out.colour) out.colour.set(c.colour, o);
    if (out.passes) out.passes.set(c.passes, o);
    for (let i = 0; i < c.n; i += 1) out.id[o + i] = c.id.at(i);
    o += c.n;
  }
  return out;
}

/**
 * Cache of point chunks for one map; `source({dataset, metric, colour, filters})` (colour: a column
 * to colour by, or null for the metric; filters: the column filters, each point then `passes`) starts over.
 * `chunksFor(...)` returns what can be drawn now (ready tiles, or coarser ready tiles standing in, so
 * the map never shows fewer points while loading). At most MAX_POINTS points stay cached.
 */
export function pointStore({ fetchPoints }) {
  const cache = new LRU(512, { weight: (chunk) => chunk.n, maxWeight: MAX_POINTS });
  const fetches = fetchQueue((job, signal) => loadTile(job.tile, job.sampling, job.zParam, signal))
    .skip((ck) => cache.has(ck))
    .onLoad((ck, chunk) => cache.set(ck, chunk));
  let src = null;
  const store = {};

  store.onChange = (fn) => { fetches.onSettle(fn); return store; };
  store.onError = (fn) => { fetches.onError(fn); return store; };
  store.source = (next) => {
    fetches.reset();
    cache.clear();
    src = next;
    return store;
  };

  async function loadTile(tile, sampling, zParam, signal) {
    const bounds = tileBounds(tile.z, tile.x, tile.y);
    const response = await fetchPoints(src.dataset, src.metric, {
      z: zParam, bbox: bounds, sampling, limit: sampling === 'all' ? ALL_LIMIT : LIMIT, colour: src.colour ?? undefined, filters: src.filters,
    }, { signal });
    return toChunk(response, bounds, tile.key);
  }

  /** The cached uncapped 'all' chunk of `tile` or of its nearest such ancestor (it holds every point of the tile), or null. */
  function wholeCover(tile) {
    for (let t = tile; t; t = parentOf(t)) {
      const chunk = cache.peek(`all|${t.key}`);
      if (chunk && !chunk.capped) return chunk;
    }
    return null;
  }

  /** 'all': each needed tile drawn from a chunk holding all its points, fetched when none is cached. */
  function allChunksFor(needed) {
    const missing = needed.filter((tile) => !wholeCover(tile) && !cache.has(`all|${tile.key}`));
    fetches.want(missing.map((tile) => ({ key: `all|${tile.key}`, tile, sampling: 'all', zParam: tile.z })));
    const chunks = [];
    const seen = new Set();
    const add = (chunk) => { if (chunk && !seen.has(chunk)) { seen.add(chunk); chunks.push(chunk); } };
    for (const tile of needed) {
      const whole = wholeCover(tile);
      if (whole) { add(whole); continue; }
      // Loading, or capped: a capped tile or ancestor (an even sample) stands in, else ready children.
      const { source } = drawPlan([tile], (key) => cache.has(`all|${key}`))[0] ?? {};
      if (source) { add(cache.peek(`all|${source.key}`)); continue; }
      for (const child of childrenOf(tile)) add(cache.peek(`all|${child.key}`));
    }
    return { chunks, pending: fetches.counts().inFlight };
  }

  function cacheKey(sampling, zParam, key) {
    return `${sampling}|${zParam}|${key}`;
  }

  /**
   * Chunks to draw for tiles `needed` (all of one level). For overlay sampling, zParam is the level
   * whose sample is wanted; a missing tile is stood in by the same tile at a lower sampling level.
   */
  store.chunksFor = (needed, sampling, zParam) => {
    if (!src) return { chunks: [], pending: 0 };
    if (sampling === 'all') return allChunksFor(needed);
    const isReady = (key) => cache.has(cacheKey(sampling, zParam, key));
    fetches.want(needed.map((tile) => ({ key: cacheKey(sampling, zParam, tile.key), tile, sampling, zParam })));
    const chunks = [];
    const seen = new Set();
    for (const { source } of drawPlan(needed, isReady)) {
      const ck = cacheKey(sampling, zParam, source.key);
      if (!seen.has(ck)) { seen.add(ck); chunks.push(cache.peek(ck)); }
    }
    // Where this level's tile is not in yet, keep showing the coarser sample of the same area.
    for (const t of needed) {
      if (isReady(t.key)) continue;
      let found = false;
      for (let z = zParam - 1; z >= 0 && !found; z -= 1) {
        const n = 2 ** (t.z - z);
        const ancestor = tileKey(z, Math.floor(t.x / n), Math.floor(t.y / n));
        const ck = cacheKey(sampling, z, ancestor);
        if (cache.has(ck)) { found = true; if (!seen.has(ck)) { seen.add(ck); chunks.push(cache.peek(ck)); } }
      }
      // Zooming out: the finer sample of the same area stands in until this level's arrives.
      if (!found) {
        for (const child of childrenOf(t)) {
          const ck = cacheKey(sampling, zParam + 1, child.key);
          if (cache.has(ck) && !seen.has(ck)) { seen.add(ck); chunks.push(cache.peek(ck)); }
        }
      }
    }
    return { chunks, pending: fetches.counts().inFlight };
  };
  return store;
}
