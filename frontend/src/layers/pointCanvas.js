// The points canvas of a map, drawn by WebGL (pointGL.js) or by blitting every point into one
// ImageData (points.js); on the canvas path, while a gesture moves many points, the last full
// drawing is moved instead and redrawn fully once the gesture pauses.
import { blitPoints, pointRadius, pointsInBox, wantsRing, RING_LIGHT, RING_DARK, DIMMED } from './points.js';
import { pointGL } from './pointGL.js';
import { visibleBBox } from '../lib/viewport.js';

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
 * The stamp sizes and colours of a frame with `inView` points: {main: {radius, ring}} for the chunks,
 * {hl: {radius, ring}} for the highlight chunk, and `include(row)` (null without a highlight).
 */
export function frameStyle(frame, inView) {
  const overlay = frame.mode === 'overlay';
  const radius = pointRadius(inView, frame.dpr, overlay);
  const include = frame.highlightRows ? (row) => frame.highlightRows.has(row) : null;
  return {
    main: { radius, ring: wantsRing(inView, overlay) ? RING_LIGHT : null },
    hl: { radius: Math.max(3 * frame.dpr, radius), ring: RING_DARK },
    include,
  };
}

/** The ImageData path (layer.paint as pointGL's): every point blitted on the CPU, then put on `canvas`. */
function pointBlit(canvas) {
  const ctx = canvas.getContext('2d');
  const blitCanvas = document.createElement('canvas');
  let image = null;
  const layer = { name: 'canvas' };
  layer.resize = () => {
    image = ctx.createImageData(canvas.width, canvas.height);
    blitCanvas.width = canvas.width; blitCanvas.height = canvas.height;
    return layer;
  };
  layer.clear = () => { ctx.setTransform(1, 0, 0, 1, 0, 0); ctx.clearRect(0, 0, canvas.width, canvas.height); return layer; };
  layer.paint = (frame, main, hl, include) => {
    const { chunks, highlightChunk, highlightRows, t, vp, dpr, colour } = frame;
    const pixels = new Uint32Array(image.data.buffer);
    pixels.fill(0);
    const drawnPoints = blitPoints(pixels, image.width, image.height, chunks, t, vp, dpr, {
      radius: main.radius, ring: main.ring, colour, include, dimmed: include ? DIMMED : null,
    });
    let drawnHighlights = 0;
    const highlightedRows = [];
    if (highlightChunk && highlightRows) {
      drawnHighlights = blitPoints(pixels, image.width, image.height, [highlightChunk], t, vp, dpr, {
        radius: hl.radius, ring: hl.ring, colour, include, dimmed: null, drawnRows: highlightedRows,
      });
    }
    blitCanvas.getContext('2d').putImageData(image, 0, 0);
    layer.clear();
    ctx.drawImage(blitCanvas, 0, 0);
    return { drawnPoints, drawnHighlights, highlightedRows };
  };
  /** Show the last drawing moved from transform `from` to `t` (a gesture over many points). */
  layer.move = (t, from, dpr) => {
    layer.clear();
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(blitCanvas, ...movedPlacement(t, from, dpr, blitCanvas.width, blitCanvas.height));
  };
  return layer;
}

/**
 * Paint points onto `canvas` (already sized in device px) with `renderer` ('webgl' or 'canvas',
 * lib/rendererChoice.js). A canvas that cannot give WebGL2 after all is replaced in the page by a
 * fresh one painted on the CPU: size and read `layer.canvas`, and `layer.renderer()` says which
 * path draws. `resize()` after each size change; `onSettle(fn)` asks for a full redraw after moved
 * frames; `draw(frame)` paints {chunks, highlightChunk, highlightRows, t, vp, dpr, mode, colour,
 * gesture} and returns {drawnPoints, drawnHighlights, highlightedRows} (how many points, and
 * highlighted points, have their centre in view, and the rows of those highlighted points).
 */
export function pointCanvas(canvas, { renderer = 'canvas' } = {}) {
  let painter = null;
  let target = canvas;
  if (renderer === 'webgl') {
    try { painter = pointGL(canvas); } catch {
      target = canvas.cloneNode(false);
      canvas.replaceWith(target);
    }
  }
  if (!painter) painter = pointBlit(target);
  let last = null;
  let settleTimer = null;
  let settle = () => {};
  const layer = { canvas: target };

  layer.renderer = () => painter.name;
  layer.onSettle = (fn) => { settle = fn; return layer; };
  layer.resize = () => { painter.resize(); last = null; return layer; };
  layer.clear = () => { painter.clear(); return layer; };

  function paintAll(frame, inView) {
    const started = performance.now();
    const { main, hl, include } = frameStyle(frame, inView);
    const answer = painter.paint(frame, main, hl, include);
    const { chunks, highlightChunk, highlightRows, mode, t } = frame;
    last = { t: { k: t.k, x: t.x, y: t.y }, chunks, highlightChunk, highlightRows, mode, ...answer };
    performance.measure('dkmap:blit', { start: started });
    return answer;
  }

  layer.draw = (frame) => {
    const box = visibleBBox(frame.t, frame.vp);
    const inView = box ? pointsInBox(frame.chunks, box) : 0;
    // WebGL redraws every point each frame; the canvas path moves its last drawing while a gesture
    // runs over many points, and draws in full once it pauses.
    if (!painter.move || !(frame.gesture && sameDrawing(last, frame) && inView > FAST_PAN_POINTS)) return paintAll(frame, inView);
    painter.move(frame.t, last.t, frame.dpr);
    clearTimeout(settleTimer);
    settleTimer = setTimeout(settle, SETTLE_MS);
    return { drawnPoints: last.drawnPoints, drawnHighlights: last.drawnHighlights, highlightedRows: last.highlightedRows };
  };
  return layer;
}
