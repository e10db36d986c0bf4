// Painting contour tiles: each tile's geometry filled into a canvas bitmap (a few per frame, so
// zooming stays smooth), then the bitmaps drawn onto the map, coarser ones standing in for missing.
import { geoPath } from 'd3';
import { LRU } from '../lib/lru.js';
import { nextFrame } from '../lib/frame.js';
import { drawPlan, tileBounds } from '../lib/tiles.js';
import { mapToScreen } from '../lib/viewport.js';

const BITMAP_SIZE = 512;
const FRAME_BUDGET_MS = 12; // bitmaps are painted for at most this long per animation frame

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

/**
 * Where tile `source`'s bitmap (R × R px) is drawn to show tile `target` (itself or a part of it):
 * the source rectangle [sx, sy, sw, sw] in bitmap pixels and the destination [dx, dy, dw, dh] in
 * device pixels, its edges rounded so neighbouring tiles meet without seams.
 */
export function tileRects(source, target, R, t, vp, dpr) {
  const sb = tileBounds(source.z, source.x, source.y);
  const tb = tileBounds(target.z, target.x, target.y);
  const w = sb[2] - sb[0];
  const sw = ((tb[2] - tb[0]) / w) * R;
  const [ax, ay] = mapToScreen(t, vp, tb[0], tb[1]);
  const [bx, by] = mapToScreen(t, vp, tb[2], tb[3]);
  const dx0 = Math.round(ax * dpr); const dy0 = Math.round(ay * dpr);
  const dx1 = Math.round(bx * dpr); const dy1 = Math.round(by * dpr);
  return [((tb[0] - sb[0]) / w) * R, ((tb[1] - sb[1]) / w) * R, sw, sw, dx0, dy0, dx1 - dx0, dy1 - dy0];
}

/**
 * The painter of one contour layer. `tiles(fn(key))` gives what a bitmap is painted from
 * ({geometry, size, scale}, or null when it is not there any more); `enqueue(key)` asks for a
 * bitmap; `onChange(fn)` follows newly painted ones; `draw(ctx, t, vp, dpr, needed)` draws them.
 */
export function contourPainter() {
  const bitmaps = new LRU(96); // key → canvas
  let queue = [];
  let tileOf = () => null;
  let changed = () => {};
  const painter = {};

  painter.tiles = (fn) => { tileOf = fn; return painter; };
  painter.onChange = (fn) => { changed = fn; return painter; };
  painter.reset = () => { bitmaps.clear(); queue = []; return painter; };
  painter.ready = (key) => bitmaps.has(key);
  painter.queued = (key) => queue.includes(key);
  painter.counts = () => ({ ready: bitmaps.size, queued: queue.length });

  const schedule = nextFrame(paintSome);
  function paintSome() {
    const started = performance.now();
    while (queue.length > 0 && performance.now() - started < FRAME_BUDGET_MS) {
      const key = queue.shift();
      const tile = tileOf(key);
      if (tile && !bitmaps.has(key)) bitmaps.set(key, paintTileBitmap(tile.geometry, tile.size, tile.scale));
    }
    changed();
    if (queue.length > 0) schedule();
  }
  painter.enqueue = (key) => { queue.push(key); schedule(); return painter; };

  /**
   * Draw the needed tiles (of the current level in view) that have bitmaps, or their stand-ins, onto
   * ctx (device pixels). Returns {sources: keys drawn from, fallback: how many tiles were stood in for}.
   */
  painter.draw = (ctx, t, vp, dpr, needed) => {
    const ops = drawPlan(needed, (key) => bitmaps.has(key));
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.imageSmoothingEnabled = true;
    const sources = new Set();
    let fallback = 0;
    for (const { source, target } of ops) {
      const bmp = bitmaps.peek(source.key);
      ctx.drawImage(bmp, ...tileRects(source, target, bmp.width, t, vp, dpr));
      sources.add(source.key);
      if (source.key !== target.key) fallback += 1;
    }
    ctx.restore();
    return { sources: [...sources], fallback };
  };
  return painter;
}
