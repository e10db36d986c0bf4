// What each frame of a map drew, reported: the `drawn` record in the map's sub-store and the stage's
// data attributes (the test hook), and the performance marks and measures of scripts/bench_frontend.py.

const CLEAR_EVERY = 1000; // frames between clearing the draw and blit measures

/** The `drawn` record of one frame. `contour` is the contour layer's stats, ignored in scatter mode. */
export function drawnRecord({ mode, sampling, colourBy = null, z, t, vp, bbox, level, chunks, capped, drawnPoints, drawnHighlights, highlightRows, pending, contour, passing = null }) {
  const scatter = mode === 'scatter';
  return {
    mode, sampling, colourBy, z, k: t.k, pointLevel: level,
    points: drawnPoints, passing, pointChunks: chunks.length, capped,
    highlighted: drawnHighlights, highlightRows: highlightRows ? highlightRows.size : 0,
    tilesNeeded: scatter ? [] : contour.needed, tilesDrawn: scatter ? [] : contour.drawnSources,
    fallbackOps: scatter ? 0 : contour.fallbackOps, pending, readyTiles: contour.readyTiles,
    view: { k: t.k, x: t.x, y: t.y, width: vp.width, height: vp.height, size: vp.size, ox: vp.ox, oy: vp.oy },
    bbox,
  };
}

/** Whether a frame painted anything, and whether everything in view is drawn (`contour`: the layer's stats). */
export function frameProgress({ mode, drawnPoints, pointChunks, pending, contour }) {
  const painted = drawnPoints > 0 || contour.drawnSources.length > 0;
  const complete = pending === 0 && (mode === 'scatter' ? pointChunks > 0 : contour.fallbackOps === 0 && contour.drawnSources.length > 0);
  return { painted, complete };
}

/**
 * Reports for the map whose sub-store is `map` and whose stage is the d3 selection `stage`.
 * `frame(started, record, {painted, complete})` reports one frame drawn since `started`
 * (performance.now()); `reset()` starts over for a new map (first paint and completion are marked
 * once per map).
 */
export function drawReport(stage, map, perf = performance) {
  let marked = { paint: false, complete: false };
  let frames = 0;
  let published = '';
  const report = {};

  report.reset = () => { marked = { paint: false, complete: false }; return report; };

  function publish(record) {
    const text = JSON.stringify(record);
    if (text === published) return;
    published = text;
    stage.attr('data-mode', record.mode).attr('data-z', record.z).attr('data-points', record.points)
      .attr('data-pending', record.pending).attr('data-highlighted', record.highlighted);
    map.set({ drawn: record });
  }

  report.frame = (started, record, { painted, complete }) => {
    publish(record);
    if (painted && !marked.paint) { marked.paint = true; perf.mark('dkmap:first-paint'); }
    if (complete && !marked.complete) { marked.complete = true; perf.mark('dkmap:complete'); }
    perf.measure('dkmap:draw', { start: started });
    frames += 1;
    if (frames % CLEAR_EVERY === 0) for (const name of ['dkmap:draw', 'dkmap:blit', 'dkmap:arrow-decode']) perf.clearMeasures(name);
    return report;
  };
  return report;
}
