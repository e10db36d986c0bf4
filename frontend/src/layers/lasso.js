// Lasso layer: free-form drawing on an SVG overlay while lasso mode is on; draws the closed selection.
import { line, curveLinearClosed, pointer } from 'd3';
import { mapToScreen, screenToMap } from '../lib/viewport.js';
import { lassoPolygon } from '../lib/lasso.js';

/**
 * Attach to an SVG selection. `active(bool)` turns drawing on; `onSelect(fn)` receives the polygon
 * in map coordinates; `polygon(p)` sets the drawn selection; `update(t, vp)` re-projects it.
 */
export function lassoLayer(svg) {
  const g = svg.append('g').attr('class', 'lasso');
  const done = g.append('path').attr('class', 'lasso-selection');
  const drawing = g.append('path').attr('class', 'lasso-drawing');
  let isActive = false;
  let path = null;
  let selected = null;
  let t = { k: 1, x: 0, y: 0 };
  let vp = null;
  let onSelect = () => {};
  let finishedAt = -Infinity;
  const layer = {};
  const toPath = line().curve(curveLinearClosed);

  function redraw() {
    if (!vp || !selected) { done.attr('d', null); } else {
      done.attr('d', toPath(selected.map(([x, y]) => mapToScreen(t, vp, x, y))));
    }
    drawing.attr('d', path && path.length > 1 ? toPath(path) : null);
  }

  svg.on('pointerdown.lasso', (event) => {
    if (!isActive || event.button !== 0) return;
    event.preventDefault();
    path = [pointer(event, svg.node())];
    svg.node().setPointerCapture?.(event.pointerId);
    redraw();
  });
  svg.on('pointermove.lasso', (event) => {
    if (!isActive || !path) return;
    path.push(pointer(event, svg.node()));
    redraw();
  });
  const finish = () => {
    if (!isActive || !path) return;
    const screen = path;
    path = null;
    finishedAt = performance.now();
    const poly = vp ? lassoPolygon(screen.map(([sx, sy]) => screenToMap(t, vp, sx, sy))) : null;
    redraw();
    if (poly) onSelect(poly);
  };
  svg.on('pointerup.lasso', finish);
  // The click that ends a lasso stroke must not also select the item under the cursor.
  svg.on('click.lasso', (event) => {
    if (performance.now() - finishedAt < 400) { event.stopImmediatePropagation(); event.preventDefault(); }
  });
  svg.on('pointercancel.lasso', () => { path = null; redraw(); });

  layer.active = (on) => {
    isActive = Boolean(on);
    if (!isActive) path = null;
    svg.classed('lasso-on', isActive);
    redraw();
    return layer;
  };
  layer.onSelect = (fn) => { onSelect = fn; return layer; };
  layer.polygon = (p) => { selected = p; redraw(); return layer; };
  layer.update = (nextT, nextVp) => { t = nextT; vp = nextVp; redraw(); return layer; };
  return layer;
}
