// The points canvas of a map: every point blitted into one ImageData; while a gesture moves many
// points, the last full drawing is moved instead and redrawn fully once the gesture pauses.
import { blitPoints, pointRadius, wantsRing, RING_LIGHT, RING_DARK, DIMMED } from './points.js';

const FAST_PAN_POINTS = 100000; // above this many points in view, gestures move the last drawing
const SETTLE_MS = 130;          // redraw fully this long after the last moved frame

/** Whether `frame` shows the same data as the drawing `last` (only the transform differs). */
export function sameDrawing(last, frame) {
  return Boolean(last) && last.chunks.length === frame.chunks.length && last.chunks.every((c, i) => c === frame.chunks[i])
    && last.highlightChunk === frame.highlightChunk && last.highlightRows === frame.highlightRows && last.mode === frame.mode;
}

/** Where to put the drawing made under transform `from` (w × h device px) so it shows transform `t`: [x, y, w, h]. */
export function movedPlacement(t, from, dpr, w, h) {
  const f = t.k / from.k;
  return [(t.x - f * from.x) * dpr, (t.y - f * from.y) * dpr, w * f, h * f];
}

/**
 * Paint points onto `canvas` (already sized in device px). `resize()` after each size change;
 * `onSettle(fn)` asks for a full redraw after moved frames; `draw(frame)` paints
 * {chunks, highlightChunk, highlightRows, t, vp, dpr, mode, colour, gesture} and returns
 * {drawnPoints, drawnHighlights, highlightedRows} (how many points, and highlighted points, have
 * their centre in view, and the rows of those highlighted points).
 */
export function pointCanvas(canvas) {
  const ctx = canvas.getContext('2d');
  const blitCanvas = document.createElement('canvas');
  let image = null;
  let last = null;
  let settleTimer = null;
  let settle = () => {};
  const layer = {};

  layer.onSettle = (fn) => { settle = fn; return layer; };
  layer.resize = () => {
    image = ctx.createImageData(canvas.width, canvas.height);
    blitCanvas.width = canvas.width; blitCanvas.height = canvas.height;
    last = null;
    return layer;
  };
  layer.clear = () => { ctx.clearRect(0, 0, canvas.width, canvas.height); return layer; };

  function wipe() {
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
  }

  function blitAll(frame, inView) {
    const { chunks, highlightChunk, highlightRows, t, vp, dpr, mode, colour } = frame;
    const started = performance.now();
    const pixels = new Uint32Array(image.data.buffer);
    pixels.fill(0);
    const overlay = mode === 'overlay';
    const radius = pointRadius(inView, dpr, overlay);
    const include = highlightRows ? (row) => highlightRows.has(row) : null;
    const drawnPoints = blitPoints(pixels, image.width, image.height, chunks, t, vp, dpr, {
      radius, ring: wantsRing(inView, overlay) ? RING_LIGHT : null, colour, include, dimmed: include ? DIMMED : null,
    });
    let drawnHighlights = 0;
    const highlightedRows = [];
    if (highlightChunk && highlightRows) {
      drawnHighlights = blitPoints(pixels, image.width, image.height, [highlightChunk], t, vp, dpr, {
        radius: Math.max(3 * dpr, radius), ring: RING_DARK, colour, include, dimmed: null, drawnRows: highlightedRows,
      });
    }
    blitCanvas.getContext('2d').putImageData(image, 0, 0);
    wipe();
    ctx.drawImage(blitCanvas, 0, 0);
    last = { t: { k: t.k, x: t.x, y: t.y }, chunks, highlightChunk, highlightRows, mode, drawnPoints, drawnHighlights, highlightedRows };
    performance.measure('dkmap:blit', { start: started });
    return { drawnPoints, drawnHighlights, highlightedRows };
  }

  layer.draw = (frame) => {
    const inView = frame.chunks.reduce((sum, c) => sum + c.n, 0);
    if (!(frame.gesture && sameDrawing(last, frame) && inView > FAST_PAN_POINTS)) return blitAll(frame, inView);
    wipe();
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(blitCanvas, ...movedPlacement(frame.t, last.t, frame.dpr, blitCanvas.width, blitCanvas.height));
    clearTimeout(settleTimer);
    settleTimer = setTimeout(settle, SETTLE_MS);
    return { drawnPoints: last.drawnPoints, drawnHighlights: last.drawnHighlights, highlightedRows: last.highlightedRows };
  };
  return layer;
}
