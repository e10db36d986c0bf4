// Overview: the map itself. Contour tiles, points, lasso, hover and click, zoom and pan.
// Reads its map's sub-store; writes only the keys it owns (drawn, z, item on click, lasso, hover).
import { select } from 'd3';
import { makeColourScale } from '../lib/colour.js';
import { makePointColour } from '../lib/pointColour.js';
import { tilesCovering, zoomLevel } from '../lib/tiles.js';
import { visibleBBox, screenToMap, mapToScreen } from '../lib/viewport.js';
import { itemCache } from '../lib/itemCache.js';
import { nextFrame } from '../lib/frame.js';
import { pointStore } from '../lib/pointStore.js';
import { contourLayer } from '../layers/contour.js';
import { pointCanvas } from '../layers/pointCanvas.js';
import { spriteLayer, thumbnailLevel } from '../layers/spriteLayer.js';
import { DIMMED } from '../layers/points.js';
import { lassoLayer } from '../layers/lasso.js';
import { renderLegend } from './legend.js';
import { overviewToolbar, statusText } from './overviewToolbar.js';
import { mapZoom } from './mapZoom.js';
import { hoverTooltip } from './hoverTooltip.js';
import { mapKeys, mapKeyActions } from './mapKeys.js';
import { mapHighlight } from './mapHighlight.js';
import { linkedHover } from './linkedHover.js';
import { drawReport, drawnRecord, frameProgress } from './drawReport.js';
import { placedMarkers } from './placedMarkers.js';

/**
 * The overview of one map, given its sub-store `map` (see state.js `mapStore`). Map 'a' is the
 * main map: it sets the tile level `z`, follows `focus` and has the keys; map 'b' is the second map
 * of the side-by-side mode, linked to 'a' by selection and hover (same items, other map).
 * `renderer` ({name: 'webgl' | 'canvas', reason}, lib/rendererChoice.js) draws the points.
 */
export function overviewView(root, map, api, { renderer = { name: 'canvas', reason: 'default' } } = {}) {
  const primary = map.slot === 'a';
  const el = select(root).classed('overview', true).attr('data-slot', map.slot);
  const toggleLasso = () => map.set({ lassoActive: !map.get().lassoActive });
  const toolbar = overviewToolbar(el, map, { zoomBy: (f) => zoomer.zoomBy(f), reset: () => zoomer.reset(), toggleLasso });

  const stage = el.append('div').attr('class', 'ov-stage').attr('tabindex', 0)
    .attr('aria-label', 'Map: drag to pan, wheel or +/− to zoom, arrows to move, L for lasso');
  const contourCanvas = stage.append('canvas').attr('class', 'layer contour-layer').node();
  const painter = pointCanvas(stage.append('canvas').attr('class', 'layer points-layer').node(), { renderer: renderer.name });
  // Test hook and benchmark: which path draws the points, and why.
  stage.attr('data-renderer', painter.renderer())
    .attr('data-renderer-reason', painter.renderer() === renderer.name ? renderer.reason : 'WebGL2 failed on the points canvas');
  const spriteCanvas = stage.append('canvas').attr('class', 'layer sprite-layer').node();
  const svg = stage.append('svg').attr('class', 'layer overlay-layer');
  const frame = svg.append('rect').attr('class', 'map-frame');
  const marker = svg.append('circle').attr('class', 'item-marker').attr('r', 9).style('display', 'none');
  const hoverRing = svg.append('circle').attr('class', 'hover-ring').attr('r', 7).style('display', 'none');
  const linkedRing = svg.append('circle').attr('class', 'linked-ring').attr('r', 9).style('display', 'none');
  // The lasso's listeners come before hover's: the click ending a stroke must not select an item.
  const lasso = lassoLayer(svg).onSelect((polygon) => {
    map.set({ lassoPolygon: polygon, lassoSlot: map.slot, lassoActive: false, filter: [], highlight: null });
  });
  const hover = hoverTooltip(svg, stage, hoverRing, map);
  const placed = placedMarkers(svg).onChoose((id) => map.set({ placedActive: id }));
  const loadingBar = stage.append('div').attr('class', 'loading-bar').style('display', 'none');
  const emptyNote = stage.append('div').attr('class', 'empty-note').text('Choose a dataset and a built metric.');
  const legendEl = el.append('div').attr('class', 'ov-legend').node();

  const reportError = (err) => map.set({ error: err.message });
  const schedule = nextFrame(draw);
  const contour = contourLayer({ fetchTile: api.getContourTile }).onError(reportError).onChange(schedule);
  const points = pointStore({ fetchPoints: api.getPoints }).onError(reportError).onChange(schedule);
  painter.onSettle(schedule);
  const thumbs = spriteLayer(spriteCanvas, { fetchSheet: api.getSpriteSheet, imageUrl: api.imageUrl }).onChange(schedule);
  const items = itemCache(api.getItem);
  const highlight = mapHighlight(api, map.slot).onError(reportError).onChange(schedule);
  const linked = linkedHover(items, map.slot).onChange(schedule);
  const report = drawReport(stage, map);
  const zoomer = mapZoom(stage)
    .filter((event) => !map.get().lassoActive || event.type === 'wheel')
    .onResize(({ width, height, dpr }) => {
      for (const c of [contourCanvas, painter.canvas, spriteCanvas]) {
        c.width = Math.round(width * dpr); c.height = Math.round(height * dpr);
        c.style.width = `${width}px`; c.style.height = `${height}px`;
      }
      svg.attr('width', width).attr('height', height);
      painter.resize();
      if (primary) showWanted(map.get());
    })
    .onChange(schedule);
  const maxLevel = () => map.get().mapInfo?.max_level ?? 0;
  let drawnChunks = [];
  let drawnThumbs = [];
  hover.zoom(zoomer).items(items).thumbnails(() => drawnThumbs)
    .points(() => ({ chunks: drawnChunks, extra: highlight.chunk(), rows: highlight.rows() }))
    .estimate((x, y) => contour.valueAt(x, y, zoomLevel(zoomer.transform().k, maxLevel())));
  if (primary) {
    mapKeys(window).enabled(() => Boolean(map.get().mapInfo)).actions(mapKeyActions({
      zoomBy: zoomer.zoomBy, reset: zoomer.reset, panBy: zoomer.panBy, toggleLasso,
      toggleImages: () => map.set({ images: !map.get().images }),
      cancelLasso: () => { if (map.get().lassoActive) map.set({ lassoActive: false }); },
    }));
  }

  let scale = null;
  let metricColour = () => DIMMED; // one function per map and colouring, so per-chunk colour caches stay valid
  let colourFn = metricColour;     // the points' colours: metricColour, or one by the column `colourBy`
  let pointColour = null;          // makePointColour of that column, once its legend info has come
  let legendNote = '';

  /** Colour the points by `s.colourBy` (null: the metric); the column's palette waits for its legend info. */
  function recolour(s) {
    pointColour = null;
    colourFn = s.colourBy ? Object.assign(() => DIMMED, { byColumn: true }) : metricColour;
    if (s.mapInfo) points.source({ dataset: s.dataset, metric: s.metric, scale, colour: s.colourBy, filters: s.columnFilters });
  }

  function learnColour(s, chunks) {
    if (!s.colourBy || pointColour) return;
    const info = [...chunks, highlight.chunk()].find((c) => c?.colourInfo?.name === s.colourBy)?.colourInfo;
    if (!info) return;
    try { pointColour = makePointColour(info); } catch (err) { reportError(err); return; }
    const pc = pointColour;
    colourFn = Object.assign((v) => pc.packed(v), { byColumn: true });
    legend(s);
  }

  function currentChunks(s, z, bbox) {
    if (!bbox || s.mode === 'contour') return { chunks: [], pending: 0, level: z };
    if (s.mode === 'scatter') return { ...points.chunksFor(tilesCovering(bbox, z), 'all', z), level: z };
    return { ...points.chunksFor(tilesCovering(bbox, z), s.sampling, z), level: z };
  }

  /** The contour canvas: tiles (veiled while items are highlighted), or a plain sheet in scatter mode. */
  function drawBase(ctx, s, t, vp, dpr, z, bbox) {
    const [fx0, fy0] = mapToScreen(t, vp, 0, 0);
    const [fx1, fy1] = mapToScreen(t, vp, 1, 1);
    frame.attr('x', fx0).attr('y', fy0).attr('width', fx1 - fx0).attr('height', fy1 - fy0);
    if (s.mode === 'scatter') {
      ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      ctx.fillStyle = getComputedStyle(stage.node()).getPropertyValue('--sheet').trim() || '#fbfbfa';
      ctx.fillRect(fx0, fy0, fx1 - fx0, fy1 - fy0);
      return;
    }
    contour.draw(ctx, t, vp, dpr, bbox ? tilesCovering(bbox, z) : [], screenToMap(t, vp, vp.width / 2, vp.height / 2));
    if (highlight.rows()) {
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.fillStyle = 'rgba(255,255,255,0.55)';
      ctx.fillRect(0, 0, contourCanvas.width, contourCanvas.height);
    }
  }

  /**
   * Thumbnails over the points when images are on and the zoom lets them fit (spriteLayer), the
   * hovered item's enlarged. Test hook: the stage's data-thumbnails (count), data-thumbnail-level
   * (the blue-noise level shown, −1 for none), data-thumbnails-pending (sheets loading) and
   * `__thumbnails` (what was drawn: [{id, row, x, y, value, box, enlarged}]).
   */
  function drawThumbnails(s, t, vp, dpr, bbox) {
    const r0 = s.mapInfo.settings?.bluenoise_radius0 ?? 1 / 48;
    const level = s.images && bbox ? thumbnailLevel(t.k, vp.size, r0, s.mapInfo.sampling?.max_level ?? 0) : -1;
    const hovered = s.hover?.slot === map.slot ? s.hover.id : null;
    drawnThumbs = thumbs.draw({ t, vp, dpr, bbox, level, colour: metricColour, hovered });
    stage.attr('data-thumbnails', drawnThumbs.length).attr('data-thumbnail-level', level)
      .attr('data-thumbnails-pending', thumbs.pending()).node().__thumbnails = drawnThumbs;
  }

  // The view a shared link asks for (`viewWanted`: the map point in the middle and the scale), shown
  // once there is a viewport; the main map tells where it is (`centre`) for the link.
  let wantedShown = null;
  function showWanted(s) {
    if (!s.viewWanted || s.viewWanted === wantedShown || !s.mapInfo || !zoomer.viewport()) return;
    wantedShown = s.viewWanted;
    zoomer.show(s.viewWanted.x, s.viewWanted.y, s.viewWanted.k);
  }
  function tellCentre(s, t, vp) {
    const [x, y] = screenToMap(t, vp, vp.width / 2, vp.height / 2);
    const c = s.centre;
    if (c && Math.abs(c.x - x) < 1e-7 && Math.abs(c.y - y) < 1e-7 && Math.abs(c.k - t.k) < 1e-5) return;
    map.set({ centre: { x, y, k: t.k } });
  }

  function showAt(circle, t, vp, p) {
    if (!p) { circle.style('display', 'none'); return; }
    const [x, y] = mapToScreen(t, vp, p.x, p.y);
    circle.style('display', null).attr('cx', x).attr('cy', y);
  }

  function draw() {
    const started = performance.now();
    const s = map.get();
    const t = zoomer.transform();
    const vp = zoomer.viewport();
    const dpr = zoomer.dpr();
    if (!vp) return;
    const cctx = contourCanvas.getContext('2d');
    cctx.setTransform(1, 0, 0, 1, 0, 0);
    cctx.clearRect(0, 0, contourCanvas.width, contourCanvas.height);
    if (!s.mapInfo || !scale) { painter.clear(); emptyNote.style('display', null); return; }
    emptyNote.style('display', 'none');
    const z = zoomLevel(t.k, s.mapInfo.max_level);
    if (primary && z !== s.z) map.set({ z });
    if (primary) tellCentre(s, t, vp);
    const bbox = visibleBBox(t, vp);
    drawBase(cctx, s, t, vp, dpr, z, bbox);
    const { chunks, pending, level } = currentChunks(s, z, bbox);
    drawnChunks = chunks;
    learnColour(s, chunks);
    const { drawnPoints, drawnHighlights, highlightedRows } = painter.draw({
      chunks, highlightChunk: highlight.chunk(), highlightRows: highlight.rows(), t, vp, dpr, mode: s.mode, colour: colourFn, gesture: zoomer.gesturing(),
    });
    stage.node().__highlighted = highlightedRows; // test hook: the highlighted rows drawn in view
    drawThumbnails(s, t, vp, dpr, bbox);
    lasso.update(t, vp);
    showAt(linkedRing, t, vp, linked.position());
    showAt(marker, t, vp, s.focusMarker?.slot === map.slot ? s.focusMarker : null);
    placed.update(s, t, vp);
    tell(started, s, { t, vp, z, bbox, level, chunks, pending, drawnPoints, drawnHighlights });
  }

  /** Say what a frame drew: the loading bar, the status line and the report (test hook, performance marks). */
  function tell(started, s, { t, vp, z, bbox, level, chunks, pending, drawnPoints, drawnHighlights }) {
    const cs = contour.stats();
    const totalPending = (s.mode === 'scatter' ? 0 : cs.pending) + pending;
    loadingBar.style('display', totalPending > 0 ? null : 'none').text(totalPending > 0 ? `Loading ${totalPending}…` : '');
    const capped = chunks.some((c) => c.capped);
    const highlightRows = highlight.rows();
    toolbar.status(statusText({
      z, mode: s.mode, drawnPoints, capped, highlight: highlightRows ? { label: highlight.label(), count: highlight.count() } : null,
      filtered: primary ? s.filteredCount : null,
    }));
    report.frame(started, drawnRecord({
      mode: s.mode, sampling: s.sampling, colourBy: pointColour ? pointColour.name : null, z, t, vp, bbox, level, chunks, capped,
      drawnPoints, drawnHighlights, highlightRows, pending: totalPending, contour: cs, passing: passingInView(chunks, bbox),
    }), frameProgress({ mode: s.mode, drawnPoints, pointChunks: chunks.length, pending: totalPending, contour: cs }));
  }

  /** Points in view passing the column filters (null without filters): the test hook's `passing`. */
  function passingInView(chunks, bbox) {
    if (!bbox || !chunks.some((c) => c.passes)) return null;
    const [x0, y0, x1, y1] = bbox;
    let n = 0;
    for (const c of chunks) {
      if (!c.passes) continue;
      for (let i = 0; i < c.n; i += 1) if (c.passes[i] && c.x[i] >= x0 && c.x[i] <= x1 && c.y[i] >= y0 && c.y[i] <= y1) n += 1;
    }
    return n;
  }

  function legend(s) {
    const ds = s.datasets.find((d) => d.name === s.dataset);
    const generators = ds?.metrics.find((x) => x.name === s.metric)?.generators ?? null;
    renderLegend(legendEl, { scale, mapInfo: s.mapInfo, mode: s.mode, generators, filtered: legendNote, pointColour: s.colourBy ? pointColour : null, columnFilters: s.columnFilters.length });
  }

  function useMap(s) {
    scale = null;
    if (s.mapInfo) {
      try { scale = makeColourScale(s.mapInfo); } catch (err) { reportError(err); }
      const sc = scale;
      metricColour = (v) => (Number.isNaN(v) || !sc ? DIMMED : sc.packed(v));
      const src = { dataset: s.dataset, metric: s.metric, scale };
      contour.source(src);
      recolour(s);
      const gens = s.datasets.find((d) => d.name === s.dataset)?.metrics.find((x) => x.name === s.metric)?.generators ?? [];
      thumbs.source({ ...src, models: s.mapInfo.kind === 'difference' ? gens.slice(0, 2) : gens.slice(0, 1) });
      zoomer.maxLevel(s.mapInfo.max_level);
    }
    highlight.reset();
    report.reset();
    zoomer.home();
    legend(s);
  }

  map.subscribe((s, prev) => {
    if (s.mapInfo !== prev.mapInfo) useMap(s);
    if (primary) showWanted(s);
    toolbar.update(s);
    lasso.active(s.lassoActive);
    stage.classed('lasso-mode', s.lassoActive);
    if (s.lassoPolygon !== prev.lassoPolygon || s.lassoSlot !== prev.lassoSlot) {
      lasso.polygon(s.lassoSlot === map.slot ? s.lassoPolygon : null);
    }
    if ((s.colourBy !== prev.colourBy || s.columnFilters !== prev.columnFilters) && s.mapInfo === prev.mapInfo) { recolour(s); legend(s); }
    if (highlight.update(s, prev)) {
      legendNote = highlight.rows() ? `dark ring: ${highlight.label()}` : '';
      legend(s);
      schedule();
    }
    if (s.hover !== prev.hover) linked.update(s);
    if (primary && s.focus !== prev.focus && s.focus && zoomer.viewport()) {
      zoomer.panTo(s.focus.x, s.focus.y, Math.max(zoomer.transform().k, 4));
      map.set({ focusMarker: { x: s.focus.x, y: s.focus.y, id: s.focus.id, slot: map.slot } });
    }
    schedule();
  }, ['mapInfo', 'mode', 'sampling', 'lassoActive', 'lassoPolygon', 'lassoSlot', 'selection', 'filter', 'highlight', 'focus', 'focusMarker', 'datasets', 'hover', 'placed', 'placedActive', 'images', 'colourBy', 'theme', 'viewWanted', 'columnFilters', 'filteredCount']);

  return { zoomBy: zoomer.zoomBy, resetZoom: zoomer.reset };
}
