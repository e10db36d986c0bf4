// Zoom, pan and resize of a map stage: d3-zoom on the stage, the viewport that fits the unit square
// into it, and the moves that buttons, keys and focus ask for.
import { zoom, zoomIdentity } from 'd3';
import { makeViewport, screenToMap, centreOn } from '../lib/viewport.js';

const GESTURE_IDLE_MS = 120; // a move counts as under way until this long after its last event

/** The zoom transform that puts map point (x, y) in the middle of viewport `vp` at scale k. */
export function centredTransform(vp, x, y, k) {
  const c = centreOn(vp, x, y, k);
  return zoomIdentity.translate(c.x, c.y).scale(k);
}

/** After a resize from `oldVp` to `vp`: the transform keeping what was in the middle in the middle, or null when the size is the same. */
export function resizedTransform(t, oldVp, vp) {
  if (oldVp.width === vp.width && oldVp.height === vp.height) return null;
  const [x, y] = screenToMap(t, oldVp, oldVp.width / 2, oldVp.height / 2);
  return centredTransform(vp, x, y, t.k);
}

/**
 * Zoom for a d3 selection `stage`. `filter(fn)` adds a condition on the events that may zoom;
 * `onResize(fn({width, height, dpr}))` sizes what is drawn in the stage; `onChange(fn)` follows
 * every change of transform or viewport. `transform()`, `viewport()` (null before the first
 * layout), `dpr()` and `gesturing()` (a gesture or an animated move under way: the points layer
 * may move its last drawing instead of redrawing) read the current state.
 */
export function mapZoom(stage) {
  let t = zoomIdentity;
  let vp = null;
  let dpr = window.devicePixelRatio || 1;
  let lastGestureAt = -Infinity;
  let focusPan = null; // where a running pan to a focused item is heading ({x, y, k}), so a resize can re-aim it
  let animating = 0;    // transitions under way (buttons, keys, focus): moves like gestures
  let allowed = () => true;
  let resized = () => {};
  let changed = () => {};
  const zoomer = zoom()
    .scaleExtent([0.5, 2 ** 12])
    .filter((event) => allowed(event) && (!event.ctrlKey || event.type === 'wheel') && !event.button)
    .on('zoom', (event) => { t = event.transform; if (event.sourceEvent || animating > 0) lastGestureAt = performance.now(); changed(); });
  stage.call(zoomer).on('dblclick.zoom', null);
  // d3-zoom cancels the default mousedown, which would otherwise focus the map (for its keys).
  stage.on('pointerdown.focus', () => stage.node().focus({ preventScroll: true }));

  const z = {};
  z.filter = (fn) => { allowed = fn; return z; };
  z.onResize = (fn) => { resized = fn; return z; };
  z.onChange = (fn) => { changed = fn; return z; };
  z.transform = () => t;
  z.viewport = () => vp;
  z.dpr = () => dpr;
  z.gesturing = () => performance.now() - lastGestureAt < GESTURE_IDLE_MS;
  /** Deepest tile level the map has: zooming stops two levels past it. */
  z.maxLevel = (level) => { zoomer.scaleExtent([0.5, 2 ** (level + 2)]); return z; };

  /** A transition of the stage that counts as a move while it runs. */
  function animate(duration) {
    animating += 1;
    let done = false;
    const end = () => { if (!done) { done = true; animating -= 1; } };
    return stage.transition().duration(duration).on('end.moving interrupt.moving cancel.moving', end);
  }
  z.zoomBy = (factor) => { animate(200).call(zoomer.scaleBy, factor); return z; };
  z.reset = () => { animate(250).call(zoomer.transform, zoomIdentity); return z; };
  /** The whole map at once, without a transition (a new map). */
  z.home = () => { stage.call(zoomer.transform, zoomIdentity); return z; };
  /** Map point (x, y) in the middle at scale k, at once (a shared view opened). */
  z.show = (x, y, k) => { stage.call(zoomer.transform, centredTransform(vp, x, y, k)); return z; };
  z.panBy = (dx, dy) => { animate(120).call(zoomer.translateBy, dx / t.k, dy / t.k); return z; };
  z.panTo = (x, y, k) => {
    const mine = focusPan = { x, y, k };
    animate(600).call(zoomer.transform, centredTransform(vp, x, y, k))
      .on('end interrupt', () => { if (focusPan === mine) focusPan = null; });
    return z;
  };

  function resize() {
    const box = stage.node().getBoundingClientRect();
    const width = Math.max(1, Math.round(box.width));
    const height = Math.max(1, Math.round(box.height));
    dpr = window.devicePixelRatio || 1;
    const old = vp;
    vp = makeViewport(width, height);
    resized({ width, height, dpr });
    zoomer.extent([[0, 0], [width, height]]);
    // The stage changes size when panels around it grow (legend lines, side by side): keep what was
    // in the middle (or where a pan was heading) in the middle instead of letting the map jump.
    const kept = old ? resizedTransform(t, old, vp) : null;
    if (kept && focusPan) z.panTo(focusPan.x, focusPan.y, focusPan.k);
    else if (kept) stage.call(zoomer.transform, kept);
    changed();
  }
  new ResizeObserver(resize).observe(stage.node());
  return z;
}
