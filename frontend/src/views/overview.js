// Overview: the map itself. Contour tiles, points, lasso, hover and click, zoom and pan.
// Reads the store; writes only the keys it owns (view, z, item on click, lasso, drawn).
import { select, zoom, zoomIdentity } from 'd3';
import { makeColourScale } from '../lib/colour.js';
import { tilesCovering, zoomLevel, pointTileLevel } from '../lib/tiles.js';
import { makeViewport, visibleBBox, screenToMap, mapToScreen, centreOn } from '../lib/viewport.js';
import { buildHitIndex, indexMatches } from '../lib/hitIndex.js';
import { filterMatches } from '../lib/filter.js';
import { fmtCount } from '../lib/format.js';
import { LRU } from '../lib/lru.js';
import { contourLayer } from '../layers/contour.js';
import { pointStore, toChunk } from '../lib/pointStore.js';
import { rowPoints } from '../lib/rowPoints.js';
import { blitPoints, pointRadius, wantsRing, RING_LIGHT, RING_DARK, DIMMED } from '../layers/points.js';
import { lassoLayer } from '../layers/lasso.js';
import { renderLegend } from './legend.js';
import { makeTooltip, itemHtml, estimateHtml } from './tooltip.js';

const MODES = ['scatter', 'contour', 'overlay'];
const SAMPLINGS = ['bluenoise', 'random'];
const HIT_RADIUS_PX = 7;
const FAST_PAN_POINTS = 100000; // above this many points in view, gestures move the last drawing
const GESTURE_IDLE_MS = 120;

/**
 * The overview of one map. `slot` 'a' shows `metric` (the main map); slot 'b' shows `metricB`, the
 * second map of the side-by-side mode, linked to 'a' by selection and hover (same items, other map).
 */
export function overviewView(root, store, api, { slot = 'a' } = {}) {
  const K = slot === 'a' ? { mapInfo: 'mapInfo', metric: 'metric', drawn: 'drawn' } : { mapInfo: 'mapInfoB', metric: 'metricB', drawn: 'drawnB' };
  const local = (st) => ({ ...st, mapInfo: st[K.mapInfo], metric: st[K.metric] });
  const el = select(root).classed('overview', true).attr('data-slot', slot);
  const toolbar = el.append('div').attr('class', 'ov-toolbar');
  const modeSeg = toolbar.append('div').attr('class', 'seg').attr('role', 'group').attr('aria-label', 'Map mode');
  modeSeg.selectAll('button').data(MODES).join('button')
    .attr('type', 'button').attr('data-mode', (d) => d).text((d) => d)
    .on('click', (_, d) => store.set({ mode: d }));
  const samplingSeg = toolbar.append('div').attr('class', 'seg sampling').attr('role', 'group').attr('aria-label', 'Overlay sampling');
  samplingSeg.selectAll('button').data(SAMPLINGS).join('button')
    .attr('type', 'button').attr('data-sampling', (d) => d).text((d) => (d === 'bluenoise' ? 'blue noise' : 'random'))
    .on('click', (_, d) => store.set({ sampling: d }));
  const lassoBtn = toolbar.append('button').attr('type', 'button').attr('class', 'lasso-btn')
    .attr('title', 'Draw a lasso (L); Escape cancels').text('Lasso (L)')
    .on('click', () => store.set({ lassoActive: !store.get().lassoActive }));
  const zoomGroup = toolbar.append('div').attr('class', 'seg zoom-btns');
  zoomGroup.append('button').attr('type', 'button').attr('title', 'Zoom in (+)').text('+').on('click', () => zoomBy(2));
  zoomGroup.append('button').attr('type', 'button').attr('title', 'Zoom out (−)').text('−').on('click', () => zoomBy(0.5));
  zoomGroup.append('button').attr('type', 'button').attr('title', 'Whole map (0)').text('⤢').on('click', () => resetZoom());
  const status = toolbar.append('span').attr('class', 'ov-status').attr('aria-live', 'polite');

  const stage = el.append('div').attr('class', 'ov-stage').attr('tabindex', 0)
    .attr('aria-label', 'Map: drag to pan, wheel or +/− to zoom, arrows to move, L for lasso');
  const contourCanvas = stage.append('canvas').attr('class', 'layer contour-layer').node();
  const pointsCanvas = stage.append('canvas').attr('class', 'layer points-layer').node();
  const svg = stage.append('svg').attr('class', 'layer overlay-layer');
  const frame = svg.append('rect').attr('class', 'map-frame');
  const marker = svg.append('circle').attr('class', 'item-marker').attr('r', 9).style('display', 'none');
  const hoverRing = svg.append('circle').attr('class', 'hover-ring').attr('r', 7).style('display', 'none');
  const linkedRing = svg.append('circle').attr('class', 'linked-ring').attr('r', 9).style('display', 'none');
  const tooltip = makeTooltip(stage);
  const loadingBar = stage.append('div').attr('class', 'loading-bar').style('display', 'none');
  const emptyNote = stage.append('div').attr('class', 'empty-note').text('Choose a dataset and a built metric.');
  const legendEl = el.append('div').attr('class', 'ov-legend').node();

  const lasso = lassoLayer(svg).onSelect((polygon) => {
    store.set({ lassoPolygon: polygon, lassoSlot: slot, lassoActive: false, filter: [], highlight: null });
  });

  const reportError = (err) => store.set({ error: err.message });
  const contour = contourLayer({ fetchTile: api.getContourTile }).onError(reportError).onChange(() => schedule());
  const points = pointStore({ fetchPoints: api.getPoints }).onError(reportError).onChange(() => schedule());

  let t = zoomIdentity;
  let vp = null;
  let dpr = window.devicePixelRatio || 1;
  let scale = null;
  let colourFn = () => DIMMED; // one function per map, so per-chunk colour caches stay valid
  let image = null;
  let frameRequested = false;
  const blitCanvas = document.createElement('canvas');
  let lastBlit = null;
  let lastZoomEvent = -Infinity;
  let settleTimer = null;
  let drawnChunks = [];
  let index = null;
  let highlightChunk = null;   // positions of filtered / highlighted items
  let highlightRows = null;    // Set of rows to emphasise, or null
  let highlightLabel = '';
  let highlightCount = '';     // how many items the highlight stands for, as shown in the status line
  const itemCache = new LRU(500);
  let hoverToken = 0;

  const zoomer = zoom()
    .scaleExtent([0.5, 2 ** 12])
    .filter((event) => {
      if (store.get().lassoActive && event.type !== 'wheel') return false;
      return (!event.ctrlKey || event.type === 'wheel') && !event.button;
    })
    .on('zoom', (event) => { t = event.transform; if (event.sourceEvent) lastZoomEvent = performance.now(); schedule(); });
  stage.call(zoomer).on('dblclick.zoom', null);

  function maxLevel() {
    return store.get()[K.mapInfo]?.max_level ?? 0;
  }

  function zoomBy(factor) {
    stage.transition().duration(200).call(zoomer.scaleBy, factor);
  }
  function resetZoom() {
    stage.transition().duration(250).call(zoomer.transform, zoomIdentity);
  }
  function panBy(dx, dy) {
    stage.transition().duration(120).call(zoomer.translateBy, dx / t.k, dy / t.k);
  }

  // Where a running pan to a focused item is heading ({x, y, k}), so a resize can re-aim it.
  let focusPan = null;
  function centred(x, y, k) {
    const c = centreOn(vp, x, y, k);
    return zoomIdentity.translate(c.x, c.y).scale(k);
  }
  function panTo(x, y, k) {
    const mine = focusPan = { x, y, k };
    stage.transition().duration(600).call(zoomer.transform, centred(x, y, k))
      .on('end interrupt', () => { if (focusPan === mine) focusPan = null; });
  }

  function resize() {
    const box = stage.node().getBoundingClientRect();
    const w = Math.max(1, Math.round(box.width));
    const h = Math.max(1, Math.round(box.height));
    dpr = window.devicePixelRatio || 1;
    const old = vp;
    const centre = old ? screenToMap(t, old, old.width / 2, old.height / 2) : null;
    vp = makeViewport(w, h);
    for (const c of [contourCanvas, pointsCanvas]) {
      c.width = Math.round(w * dpr); c.height = Math.round(h * dpr);
      c.style.width = `${w}px`; c.style.height = `${h}px`;
    }
    svg.attr('width', w).attr('height', h);
    image = pointsCanvas.getContext('2d').createImageData(pointsCanvas.width, pointsCanvas.height);
    blitCanvas.width = pointsCanvas.width; blitCanvas.height = pointsCanvas.height;
    lastBlit = null;
    zoomer.extent([[0, 0], [w, h]]);
    if (old && (old.width !== w || old.height !== h)) {
      // The stage changes size when panels around it grow (legend lines, side by side): keep what was
      // in the middle (or where a pan was heading) in the middle instead of letting the map jump.
      if (focusPan) panTo(focusPan.x, focusPan.y, focusPan.k);
      else stage.call(zoomer.transform, centred(centre[0], centre[1], t.k));
    }
    schedule();
  }
  new ResizeObserver(resize).observe(stage.node());

  function schedule() {
    if (frameRequested) return;
    frameRequested = true;
    requestAnimationFrame(draw);
  }

  function currentChunks(s, z, bbox) {
    if (!bbox || s.mode === 'contour') return { chunks: [], pending: 0, level: z };
    if (s.mode === 'scatter') {
      const level = Math.min(12, pointTileLevel(z, s.mapInfo.n_items));
      return { ...points.chunksFor(tilesCovering(bbox, level), 'all', level), level };
    }
    return { ...points.chunksFor(tilesCovering(bbox, z), s.sampling, z), level: z };
  }

  let marked = { paint: false, complete: false };
  let drawCount = 0;

  function draw() {
    frameRequested = false;
    const started = performance.now();
    const s = local(store.get());
    if (!vp) return;
    const cctx = contourCanvas.getContext('2d');
    cctx.setTransform(1, 0, 0, 1, 0, 0);
    cctx.clearRect(0, 0, contourCanvas.width, contourCanvas.height);
    const pctx = pointsCanvas.getContext('2d');
    if (!s.mapInfo || !scale) {
      pctx.clearRect(0, 0, pointsCanvas.width, pointsCanvas.height);
      emptyNote.style('display', null);
      return;
    }
    emptyNote.style('display', 'none');
    const z = zoomLevel(t.k, s.mapInfo.max_level);
    if (slot === 'a' && z !== s.z) store.set({ z });
    const bbox = visibleBBox(t, vp);
    const [fx0, fy0] = mapToScreen(t, vp, 0, 0);
    const [fx1, fy1] = mapToScreen(t, vp, 1, 1);
    frame.attr('x', fx0).attr('y', fy0).attr('width', fx1 - fx0).attr('height', fy1 - fy0);

    const needed = bbox ? tilesCovering(bbox, z) : [];
    const centre = screenToMap(t, vp, vp.width / 2, vp.height / 2);
    if (s.mode !== 'scatter') {
      contour.draw(cctx, t, vp, dpr, needed, centre);
      if (highlightRows) {
        cctx.setTransform(1, 0, 0, 1, 0, 0);
        cctx.fillStyle = 'rgba(255,255,255,0.55)';
        cctx.fillRect(0, 0, contourCanvas.width, contourCanvas.height);
      }
    } else {
      cctx.setTransform(dpr, 0, 0, dpr, 0, 0);
      cctx.fillStyle = '#fbfbfa';
      cctx.fillRect(fx0, fy0, fx1 - fx0, fy1 - fy0);
    }

    const { chunks, pending, level } = currentChunks(s, z, bbox);
    drawnChunks = chunks;
    const inView = chunks.reduce((sum, c) => sum + c.n, 0);
    // Many points while a gesture is under way: move the last full drawing instead of redrawing
    // every point; redraw fully once the gesture pauses.
    const gesture = performance.now() - lastZoomEvent < GESTURE_IDLE_MS;
    const sameData = lastBlit && lastBlit.chunks.length === chunks.length && lastBlit.chunks.every((c, i) => c === chunks[i])
      && lastBlit.highlightChunk === highlightChunk && lastBlit.highlightRows === highlightRows && lastBlit.mode === s.mode;
    let drawnPoints;
    let drawnHighlights;
    if (gesture && sameData && inView > FAST_PAN_POINTS) {
      const f = t.k / lastBlit.t.k;
      pctx.setTransform(1, 0, 0, 1, 0, 0);
      pctx.clearRect(0, 0, pointsCanvas.width, pointsCanvas.height);
      pctx.imageSmoothingEnabled = false;
      pctx.drawImage(blitCanvas, (t.x - f * lastBlit.t.x) * dpr, (t.y - f * lastBlit.t.y) * dpr, blitCanvas.width * f, blitCanvas.height * f);
      ({ drawnPoints, drawnHighlights } = lastBlit);
      clearTimeout(settleTimer);
      settleTimer = setTimeout(schedule, GESTURE_IDLE_MS + 10);
    } else {
      const blitStarted = performance.now();
      const pixels = new Uint32Array(image.data.buffer);
      pixels.fill(0);
      const radius = pointRadius(inView, dpr, s.mode === 'overlay');
      const include = highlightRows ? (row) => highlightRows.has(row) : null;
      const colour = colourFn;
      drawnPoints = blitPoints(pixels, image.width, image.height, chunks, t, vp, dpr, {
        radius, ring: wantsRing(inView, s.mode === 'overlay') ? RING_LIGHT : null, colour, include, dimmed: include ? DIMMED : null,
      });
      drawnHighlights = 0;
      if (highlightChunk && highlightRows) {
        drawnHighlights = blitPoints(pixels, image.width, image.height, [highlightChunk], t, vp, dpr, {
          radius: Math.max(3 * dpr, radius), ring: RING_DARK, colour, include, dimmed: null,
        });
      }
      blitCanvas.getContext('2d').putImageData(image, 0, 0);
      pctx.setTransform(1, 0, 0, 1, 0, 0);
      pctx.clearRect(0, 0, pointsCanvas.width, pointsCanvas.height);
      pctx.drawImage(blitCanvas, 0, 0);
      lastBlit = { t: { k: t.k, x: t.x, y: t.y }, chunks, highlightChunk, highlightRows, mode: s.mode, drawnPoints, drawnHighlights };
      performance.measure('dkmap:blit', { start: blitStarted });
    }
    lasso.update(t, vp);
    if (linkedHover) {
      const [lx, ly] = mapToScreen(t, vp, linkedHover.x, linkedHover.y);
      linkedRing.style('display', null).attr('cx', lx).attr('cy', ly);
    } else linkedRing.style('display', 'none');
    if (s.focusMarker && s.focusMarker.slot === slot) {
      const [mx, my] = mapToScreen(t, vp, s.focusMarker.x, s.focusMarker.y);
      marker.style('display', null).attr('cx', mx).attr('cy', my);
    } else marker.style('display', 'none');

    const cs = contour.stats();
    const totalPending = (s.mode === 'scatter' ? 0 : cs.pending) + pending;
    loadingBar.style('display', totalPending > 0 ? null : 'none').text(totalPending > 0 ? `Loading ${totalPending}…` : '');
    const capped = chunks.some((c) => c.capped);
    const parts = [`z ${z}`];
    if (s.mode !== 'contour') parts.push(`${fmtCount(drawnPoints)} ${s.mode === 'overlay' ? 'sampled' : ''} items in view`.replace('  ', ' '));
    if (capped) parts.push('(thinned: zoom in to see every item)');
    if (highlightRows) parts.push(`${highlightLabel}: ${highlightCount}`);
    status.text(parts.join(' · '));

    publish({
      mode: s.mode, sampling: s.sampling, z, k: t.k, pointLevel: level,
      points: drawnPoints, pointChunks: chunks.length, capped,
      highlighted: drawnHighlights, highlightRows: highlightRows ? highlightRows.size : 0,
      tilesNeeded: s.mode === 'scatter' ? [] : cs.needed, tilesDrawn: s.mode === 'scatter' ? [] : cs.drawnSources,
      fallbackOps: s.mode === 'scatter' ? 0 : cs.fallbackOps, pending: totalPending, readyTiles: cs.readyTiles,
      view: { k: t.k, x: t.x, y: t.y, width: vp.width, height: vp.height, size: vp.size, ox: vp.ox, oy: vp.oy },
      bbox,
    });
    // Performance marks for scripts/bench_frontend.py: first paint, everything in view drawn, frame cost.
    const painted = drawnPoints > 0 || cs.drawnSources.length > 0;
    if (painted && !marked.paint) { marked.paint = true; performance.mark('dkmap:first-paint'); }
    const complete = totalPending === 0 && (s.mode === 'scatter' ? chunks.length > 0 : cs.fallbackOps === 0 && cs.drawnSources.length > 0);
    if (complete && !marked.complete) { marked.complete = true; performance.mark('dkmap:complete'); }
    performance.measure('dkmap:draw', { start: started });
    drawCount += 1;
    if (drawCount % 1000 === 0) { performance.clearMeasures('dkmap:draw'); performance.clearMeasures('dkmap:blit'); }
  }

  let lastPublished = '';
  function publish(drawn) {
    const text = JSON.stringify(drawn);
    if (text === lastPublished) return;
    lastPublished = text;
    stage.attr('data-mode', drawn.mode).attr('data-z', drawn.z).attr('data-points', drawn.points)
      .attr('data-pending', drawn.pending).attr('data-highlighted', drawn.highlighted);
    store.set({ [K.drawn]: drawn });
  }

  // Hover and click: nearest drawn point through the quadtree; otherwise the contour estimate.
  function hitTest(event) {
    const [sx, sy] = [event.offsetX, event.offsetY];
    const [mx, my] = screenToMap(t, vp, sx, sy);
    if (!indexMatches(index, drawnChunks, highlightChunk, highlightRows)) {
      index = buildHitIndex(drawnChunks, highlightChunk, highlightRows);
    }
    return { mx, my, sx, sy, hit: index.find(mx, my, HIT_RADIUS_PX / (t.k * vp.size)) };
  }

  svg.on('pointermove.hover', (event) => {
    const s = local(store.get());
    if (!s.mapInfo || s.lassoActive || !vp) { tooltip.hide(); return; }
    const res = hitTest(event);
    const unit = s.mapInfo.unit;
    if (res.hit) {
      const { id, value } = res.hit;
      const [hx, hy] = mapToScreen(t, vp, res.hit.x, res.hit.y);
      hoverRing.style('display', null).attr('cx', hx).attr('cy', hy);
      const cached = itemCache.get(`${s.dataset}|${id}`);
      tooltip.show(res.sx, res.sy, itemHtml(cached ? cached.prompt : null, s.metric, value, unit), vp.width);
      if (!cached) {
        const token = ++hoverToken;
        api.getItem(s.dataset, id).then((item) => {
          itemCache.set(`${s.dataset}|${id}`, item);
          if (token === hoverToken) tooltip.show(res.sx, res.sy, itemHtml(item.prompt, s.metric, value, unit), vp.width);
        }).catch(() => {});
      }
      stage.style('cursor', 'pointer');
      if (store.get().hover?.id !== id) store.set({ hover: { id, slot } });
      return;
    }
    hoverRing.style('display', 'none');
    stage.style('cursor', null);
    hoverToken += 1;
    if (store.get().hover) store.set({ hover: null });
    if (s.mode === 'scatter' || res.mx < 0 || res.my < 0 || res.mx > 1 || res.my > 1) { tooltip.hide(); return; }
    const v = contour.valueAt(res.mx, res.my, zoomLevel(t.k, maxLevel()));
    if (v === null) { tooltip.hide(); return; }
    tooltip.show(res.sx, res.sy, estimateHtml(s.metric, v, unit), vp.width);
  });
  svg.on('pointerleave.hover', () => {
    tooltip.hide(); hoverRing.style('display', 'none');
    if (store.get().hover) store.set({ hover: null });
  });
  svg.on('click.select', (event) => {
    const s = local(store.get());
    if (!s.mapInfo || s.lassoActive || event.defaultPrevented) return;
    const res = hitTest(event);
    if (res.hit) store.set({ item: res.hit.id, focusMarker: { x: res.hit.x, y: res.hit.y, id: res.hit.id, slot } });
  });

  // Keys work wherever focus is, except in form fields: +/− zoom, arrows pan, 0 resets, L lasso, Escape.
  const keyActions = {
    '+': () => zoomBy(2), '=': () => zoomBy(2), '-': () => zoomBy(0.5), _: () => zoomBy(0.5), 0: resetZoom,
    ArrowLeft: () => panBy(80, 0), ArrowRight: () => panBy(-80, 0),
    ArrowUp: () => panBy(0, 80), ArrowDown: () => panBy(0, -80),
    l: () => store.set({ lassoActive: !store.get().lassoActive }),
    L: () => store.set({ lassoActive: !store.get().lassoActive }),
    Escape: () => { if (store.get().lassoActive) store.set({ lassoActive: false }); },
  };
  if (slot === 'a') window.addEventListener('keydown', (event) => {
    const tag = event.target && event.target.tagName;
    if (tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA' || event.ctrlKey || event.metaKey || event.altKey) return;
    const action = keyActions[event.key];
    if (!action || !store.get()[K.mapInfo]) return;
    event.preventDefault();
    action();
  });
  // d3-zoom cancels the default mousedown, which would otherwise focus the map.
  stage.on('pointerdown.focus', () => stage.node().focus({ preventScroll: true }));

  // Positions of the filtered / highlighted items. The lasso's own map has them in the selection's
  // sample; other items (a SPEC cluster, a selection made on the other map) are looked up by row.
  let highlightToken = 0;
  function useSelectionSample(s) {
    highlightToken += 1;
    highlightChunk = s.selection ? toChunk({ points: s.selection.sample }, [0, 0, 1, 1], 'selection') : null;
    index = null;
  }
  async function loadRowPoints(s, rows) {
    const token = ++highlightToken;
    highlightChunk = null;
    if (!rows || !s.mapInfo) return;
    try {
      const chunk = await rowPoints(api, s, rows);
      if (token === highlightToken) { highlightChunk = chunk; index = null; schedule(); }
    } catch (err) { reportError(err); }
  }

  // Linked hover: the item hovered on the other map, ringed here at its position on this map.
  let linkedHover = null;
  let linkedToken = 0;
  async function showLinkedHover(s) {
    const token = ++linkedToken;
    linkedHover = null;
    schedule();
    if (!s.hover || s.hover.slot === slot || !s.mapInfo) return;
    const key = `${s.dataset}|${s.hover.id}`;
    let item = itemCache.get(key);
    if (!item) {
      try { item = await api.getItem(s.dataset, s.hover.id); } catch { return; }
      itemCache.set(key, item);
    }
    const p = item.positions?.[s.metric];
    if (token === linkedToken && p) { linkedHover = { x: p[0], y: p[1] }; schedule(); }
  }

  function updateHighlight(s) {
    try {
      const matches = filterMatches(s.selection, s.filter);
      const linked = s.selection && s.selectionSource === 'lasso' && s.lassoSlot !== slot;
      if (matches) {
        highlightRows = matches.rows; highlightLabel = 'filtered items';
        highlightCount = matches.sampled
          ? `≈${fmtCount(matches.estimate)} (${fmtCount(matches.rows.size)} of a ${fmtCount(s.selection.sample.size)}-item sample shown)`
          : fmtCount(matches.estimate);
      } else if (s.highlight) {
        highlightRows = new Set(s.highlight.rows); highlightLabel = s.highlight.label; highlightCount = fmtCount(highlightRows.size);
      } else if (linked) {
        const { sample } = s.selection;
        highlightRows = new Set(sample.row); highlightLabel = 'selected on the other map';
        highlightCount = sample.sampled ? `${fmtCount(s.selection.count)} (${fmtCount(sample.size)} sampled shown)` : fmtCount(s.selection.count);
      } else highlightRows = null;
    } catch (err) { highlightRows = null; reportError(err); }
    renderLegend(legendEl, { scale, mapInfo: s.mapInfo, mode: s.mode, generators: generatorsOf(s), filtered: highlightRows ? `dark ring: ${highlightLabel}` : '' });
    schedule();
  }

  function generatorsOf(s) {
    const ds = s.datasets.find((d) => d.name === s.dataset);
    const m = ds?.metrics.find((x) => x.name === s.metric);
    return m?.generators ?? null;
  }

  store.subscribe((raw, rawPrev) => {
    const s = local(raw);
    const prev = local(rawPrev);
    if (s.mapInfo !== prev.mapInfo) {
      scale = null;
      if (s.mapInfo) {
        try { scale = makeColourScale(s.mapInfo); } catch (err) { reportError(err); }
        const sc = scale;
        colourFn = (v) => (Number.isNaN(v) || !sc ? DIMMED : sc.packed(v));
        const src = { dataset: s.dataset, metric: s.metric, scale };
        contour.source(src); points.source(src);
        zoomer.scaleExtent([0.5, 2 ** (s.mapInfo.max_level + 2)]);
      }
      highlightChunk = null; highlightRows = null; index = null;
      marked = { paint: false, complete: false };
      stage.call(zoomer.transform, zoomIdentity);
      renderLegend(legendEl, { scale, mapInfo: s.mapInfo, mode: s.mode, generators: generatorsOf(s) });
    }
    modeSeg.selectAll('button').classed('active', (d) => d === s.mode).attr('aria-pressed', (d) => d === s.mode);
    samplingSeg.style('visibility', s.mode === 'overlay' ? null : 'hidden');
    samplingSeg.selectAll('button').classed('active', (d) => d === s.sampling).attr('aria-pressed', (d) => d === s.sampling);
    lassoBtn.classed('active', s.lassoActive).attr('aria-pressed', s.lassoActive);
    lasso.active(s.lassoActive);
    stage.classed('lasso-mode', s.lassoActive);
    if (s.lassoPolygon !== prev.lassoPolygon || s.lassoSlot !== prev.lassoSlot) {
      lasso.polygon(s.lassoSlot === slot ? s.lassoPolygon : null);
    }
    if (s.highlight !== prev.highlight && s.highlight) loadRowPoints(s, s.highlight.rows);
    if (s.selection !== prev.selection && s.selectionSource === 'lasso') {
      if (s.lassoSlot === slot) useSelectionSample(s);
      else if (s.selection) loadRowPoints(s, s.selection.sample.row);
    }
    if (s.hover !== prev.hover) showLinkedHover(s);
    if (s.selection !== prev.selection || s.filter !== prev.filter || s.highlight !== prev.highlight
      || s.mode !== prev.mode || s.mapInfo !== prev.mapInfo) updateHighlight(s);
    if (slot === 'a' && s.focus !== prev.focus && s.focus && vp) {
      panTo(s.focus.x, s.focus.y, Math.max(t.k, 4));
      store.set({ focusMarker: { x: s.focus.x, y: s.focus.y, id: s.focus.id, slot } });
    }
    schedule();
  }, [K.mapInfo, 'mode', 'sampling', 'lassoActive', 'lassoPolygon', 'lassoSlot', 'selection', 'filter', 'highlight', 'focus', 'focusMarker', 'datasets', 'hover']);

  return { zoomBy, resetZoom };
}
