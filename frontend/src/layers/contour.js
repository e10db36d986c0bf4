// Contour tiles layer: fetch the tile grids in view (lib/fetchQueue.js), turn them into contour
// geometry in a worker (contourGeometryService.js) and paint that (contourPainter.js), with the
// coarser level standing in until the finer tile is ready.
import { LRU } from '../lib/lru.js';
import { fetchQueue } from '../lib/fetchQueue.js';
import { tileBounds } from '../lib/tiles.js';
import { parseTile, valueAt } from './contourGeometry.js';
import { geometryService } from './contourGeometryService.js';
import { contourPainter } from './contourPainter.js';

const MAX_IN_FLIGHT = 6;
const ROOT = { z: 0, x: 0, y: 0, key: '0/0/0' }; // the fallback of last resort, always kept on its way

/** The needed tiles, nearest to map point `centre` first. */
export function nearestFirst(needed, centre) {
  const dist = (t) => {
    const [x0, y0, x1, y1] = tileBounds(t.z, t.x, t.y);
    return Math.hypot((x0 + x1) / 2 - centre[0], (y0 + y1) / 2 - centre[1]);
  };
  return [...needed].sort((a, b) => dist(a) - dist(b));
}

/**
 * The contour layer. `source(...)` points it at a map; `draw(ctx, ...)` paints what is ready and
 * queues what is missing; `onChange(fn)` is called when new tiles become drawable.
 */
export function contourLayer({ fetchTile }) {
  const data = new LRU(256);      // key → parsed tile
  const shapes = new LRU(256);    // key → contour geometry
  const computing = new Set();    // keys whose geometry is being computed
  const computeGeometry = geometryService();
  const painter = contourPainter();
  const fetches = fetchQueue((tile, signal) => fetchTile(src.dataset, src.metric, tile.z, tile.x, tile.y, { signal }))
    .maxInFlight(MAX_IN_FLIGHT)
    .skip((key) => data.has(key))
    .onLoad((key, response) => { data.set(key, parseTile(response)); requestGeometry(key); });
  let src = null;
  let generation = 0;
  let changed = () => {};
  let errored = () => {};
  let last = { z: 0, needed: [], drawnSources: [], fallback: 0 };

  const layer = {};

  layer.onChange = (fn) => { changed = fn; painter.onChange(fn); fetches.onSettle(fn); return layer; };
  layer.onError = (fn) => { errored = fn; fetches.onError(fn); return layer; };

  painter.tiles((key) => {
    const geometry = shapes.peek(key);
    const parsed = data.peek(key);
    return geometry && parsed && src ? { geometry, size: parsed.size, scale: src.scale } : null;
  });

  layer.source = (next) => {
    generation += 1;
    fetches.reset();
    data.clear(); painter.reset(); shapes.clear(); computing.clear();
    src = next;
    return layer;
  };

  function requestGeometry(key) {
    const parsed = data.peek(key);
    if (!parsed || shapes.has(key) || computing.has(key) || !src) return;
    computing.add(key);
    const gen = generation;
    computeGeometry(parsed, src.scale).then((geometry) => {
      if (gen !== generation) return;
      computing.delete(key);
      shapes.set(key, geometry);
      painter.enqueue(key);
    }).catch((err) => {
      if (gen !== generation) return;
      computing.delete(key);
      fetches.fail(key, err.message);
      errored(err);
      changed();
    });
  }

  /** Ask for the needed tiles (centre first) and their parents, so a fallback is always on its way. */
  function request(needed, centre) {
    for (const t of needed) {
      if (painter.ready(t.key)) continue;
      if (shapes.has(t.key)) {
        if (!painter.queued(t.key)) painter.enqueue(t.key);
      } else if (data.has(t.key)) requestGeometry(t.key);
    }
    const wanted = nearestFirst(needed, centre).filter((t) => !data.has(t.key) && !fetches.loading(t.key) && !fetches.failed(t.key));
    if (!painter.ready(ROOT.key) && !data.has(ROOT.key)) wanted.unshift(ROOT);
    // Cancel fetches of tiles no longer in view (keep level 0).
    const neededKeys = new Set(needed.map((t) => t.key));
    fetches.cancelUnless((key) => key === ROOT.key || neededKeys.has(key)).want(wanted);
  }

  /**
   * Draw onto ctx (device pixels). needed: tiles of the current level in view.
   * Tile edges are rounded to device pixels so neighbours meet without seams.
   */
  layer.draw = (ctx, t, vp, dpr, needed, centre) => {
    if (!src) return layer;
    request(needed, centre);
    const { sources, fallback } = painter.draw(ctx, t, vp, dpr, needed);
    last = { z: needed.length ? needed[0].z : 0, needed: needed.map((n) => n.key), drawnSources: sources, fallback };
    return layer;
  };

  /** Estimated metric at map point (x, y) from the finest loaded tile: number, NaN if masked, null if unknown. */
  layer.valueAt = (x, y, zMax) => valueAt((key) => data.peek(key), x, y, zMax);

  /** What was drawn last (for the test hook and the status line). */
  layer.stats = () => {
    const queue = fetches.counts();
    const paint = painter.counts();
    return {
      z: last.z,
      needed: last.needed,
      drawnSources: last.drawnSources,
      fallbackOps: last.fallback,
      loadedTiles: data.size,
      readyTiles: paint.ready,
      pending: queue.inFlight + queue.waiting + computing.size + paint.queued,
      failed: queue.failed,
    };
  };

  return layer;
}
