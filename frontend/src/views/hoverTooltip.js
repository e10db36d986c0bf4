// Hover and click on a map: the thumbnail under the pointer (enlarged by the sprite layer, as the
// hovered item), else the nearest drawn point (through a quadtree over what was drawn, with a ring),
// gets a tooltip with its prompt and value and is the item a click selects; away from both the
// tooltip shows the contour estimate.
import { buildHitIndex, indexMatches } from '../lib/hitIndex.js';
import { thumbnailAt } from '../layers/spriteLayer.js';
import { mapToScreen, screenToMap } from '../lib/viewport.js';
import { makeTooltip, itemHtml, estimateHtml } from './tooltip.js';

const HIT_RADIUS_PX = 7;

/** Whether map point (x, y) lies on the map (the unit square). */
export function onMap(x, y) {
  return x >= 0 && y >= 0 && x <= 1 && y <= 1;
}

/**
 * Hover and click on `svg` (over the d3 selection `stage`) for the map whose sub-store is `map`;
 * `ring` is the SVG circle that marks the hovered point. `zoom(z)` gives the transform and viewport; `points(fn)` what was drawn ({chunks, extra, rows}:
 * the drawn chunks, and the highlight chunk with its highlighted rows); `estimate(fn(x, y))` the
 * contour value at a map point (number, NaN if masked, null if unknown); `items(cache)` the item cache;
 * `thumbnails(fn)` the thumbnails drawn (spriteLayer's `draw` answer), which lie above the points.
 */
export function hoverTooltip(svg, stage, ring, map) {
  const tooltip = makeTooltip(stage);
  let zoom = null;
  let drawn = () => ({ chunks: [], extra: null, rows: null });
  let estimate = () => null;
  let thumbnails = () => [];
  let items = null;
  let index = null;
  let token = 0;
  const hover = {};

  hover.zoom = (z) => { zoom = z; return hover; };
  hover.points = (fn) => { drawn = fn; return hover; };
  hover.estimate = (fn) => { estimate = fn; return hover; };
  hover.items = (cache) => { items = cache; return hover; };
  hover.thumbnails = (fn) => { thumbnails = fn; return hover; };

  function hitTest(event) {
    const t = zoom.transform();
    const vp = zoom.viewport();
    const [sx, sy] = [event.offsetX, event.offsetY];
    const [mx, my] = screenToMap(t, vp, sx, sy);
    const thumb = thumbnailAt(thumbnails(), sx, sy);
    if (thumb) return { mx, my, sx, sy, hit: { id: thumb.id, x: thumb.x, y: thumb.y, value: thumb.value ?? NaN, thumbnail: true } };
    const { chunks, extra, rows } = drawn();
    if (!indexMatches(index, chunks, extra, rows)) index = buildHitIndex(chunks, extra, rows);
    return { mx, my, sx, sy, hit: index.find(mx, my, HIT_RADIUS_PX / (t.k * vp.size)) };
  }

  function showItem(s, res) {
    const { id, value } = res.hit;
    const t = zoom.transform();
    const vp = zoom.viewport();
    const [hx, hy] = mapToScreen(t, vp, res.hit.x, res.hit.y);
    if (res.hit.thumbnail) ring.style('display', 'none'); // the enlarged thumbnail marks it
    else ring.style('display', null).attr('cx', hx).attr('cy', hy);
    const unit = s.mapInfo.unit;
    const cached = items.get(s.dataset, id);
    tooltip.show(res.sx, res.sy, itemHtml(cached ? cached.prompt : null, s.metric, value, unit), vp.width);
    if (!cached) {
      const my = ++token;
      items.load(s.dataset, id).then((item) => {
        if (my === token) tooltip.show(res.sx, res.sy, itemHtml(item.prompt, s.metric, value, unit), vp.width);
      }).catch(() => {});
    }
    stage.style('cursor', 'pointer');
    if (map.get().hover?.id !== id) map.set({ hover: { id, slot: map.slot } });
  }

  function showEstimate(s, res) {
    ring.style('display', 'none');
    stage.style('cursor', null);
    token += 1;
    if (map.get().hover) map.set({ hover: null });
    const v = s.mode === 'scatter' || !onMap(res.mx, res.my) ? null : estimate(res.mx, res.my);
    if (v === null) tooltip.hide();
    else tooltip.show(res.sx, res.sy, estimateHtml(s.metric, v, s.mapInfo.unit), zoom.viewport().width);
  }

  svg.on('pointermove.hover', (event) => {
    const s = map.get();
    if (!s.mapInfo || s.lassoActive || !zoom.viewport()) { tooltip.hide(); return; }
    const res = hitTest(event);
    if (res.hit) showItem(s, res); else showEstimate(s, res);
  });
  svg.on('pointerleave.hover', () => {
    tooltip.hide(); ring.style('display', 'none');
    if (map.get().hover) map.set({ hover: null });
  });
  svg.on('click.select', (event) => {
    const s = map.get();
    if (!s.mapInfo || s.lassoActive || event.defaultPrevented) return;
    const { hit } = hitTest(event);
    if (hit) map.set({ item: hit.id, focusMarker: { x: hit.x, y: hit.y, id: hit.id, slot: map.slot } });
  });
  return hover;
}
