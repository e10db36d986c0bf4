// The overview's toolbar: map mode, overlay sampling, lasso, zoom buttons and the status line.
import { fmtCount } from '../lib/format.js';

const MODES = ['scatter', 'contour', 'overlay'];
const SAMPLINGS = ['bluenoise', 'random'];

/** The status line: the tile level, the items in view, and what is highlighted (`highlight`: {label, count} or null). */
export function statusText({ z, mode, drawnPoints, capped, highlight, filtered = null }) {
  const parts = [`z ${z}`];
  if (mode !== 'contour') parts.push(`${fmtCount(drawnPoints)} ${mode === 'overlay' ? 'sampled' : ''} items in view`.replace('  ', ' '));
  if (capped) parts.push('(thinned: zoom in to see every item)');
  if (highlight) parts.push(`${highlight.label}: ${highlight.count}`);
  if (filtered) parts.push(`${fmtCount(filtered.n)} of ${fmtCount(filtered.of)} ${filtered.scope} pass the filters`);
  return parts.join(' · ');
}

/**
 * The toolbar, appended to the d3 selection `el`; its buttons write the mode and sampling to `map`
 * (a sub-store) or call `actions` (zoomBy(factor), reset(), toggleLasso()). `update(s)` shows the
 * state's mode, sampling and lasso; `status(text)` sets the status line.
 */
export function overviewToolbar(el, map, actions) {
  const toolbar = el.append('div').attr('class', 'ov-toolbar');
  const modeSeg = toolbar.append('div').attr('class', 'seg').attr('role', 'group').attr('aria-label', 'Map mode');
  modeSeg.selectAll('button').data(MODES).join('button')
    .attr('type', 'button').attr('data-mode', (d) => d).text((d) => d)
    .on('click', (_, d) => map.set({ mode: d }));
  const samplingSeg = toolbar.append('div').attr('class', 'seg sampling').attr('role', 'group').attr('aria-label', 'Overlay sampling');
  samplingSeg.selectAll('button').data(SAMPLINGS).join('button')
    .attr('type', 'button').attr('data-sampling', (d) => d).text((d) => (d === 'bluenoise' ? 'blue noise' : 'random'))
    .on('click', (_, d) => map.set({ sampling: d }));
  const lassoBtn = toolbar.append('button').attr('type', 'button').attr('class', 'lasso-btn')
    .attr('title', 'Draw a lasso (L); Escape cancels').text('Lasso (L)')
    .on('click', () => actions.toggleLasso());
  const imagesBtn = toolbar.append('button').attr('type', 'button').attr('class', 'images-btn')
    .attr('title', 'Thumbnails instead of dots where they fit (I)').text('Images (I)')
    .on('click', () => map.set({ images: !map.get().images }));
  const zoomGroup = toolbar.append('div').attr('class', 'seg zoom-btns');
  zoomGroup.append('button').attr('type', 'button').attr('title', 'Zoom in (+)').text('+').on('click', () => actions.zoomBy(2));
  zoomGroup.append('button').attr('type', 'button').attr('title', 'Zoom out (−)').text('−').on('click', () => actions.zoomBy(0.5));
  zoomGroup.append('button').attr('type', 'button').attr('title', 'Whole map (0)').text('⤢').on('click', () => actions.reset());
  const status = toolbar.append('span').attr('class', 'ov-status').attr('aria-live', 'polite');

  return {
    update(s) {
      modeSeg.selectAll('button').classed('active', (d) => d === s.mode).attr('aria-pressed', (d) => d === s.mode);
      samplingSeg.style('visibility', s.mode === 'overlay' ? null : 'hidden');
      samplingSeg.selectAll('button').classed('active', (d) => d === s.sampling).attr('aria-pressed', (d) => d === s.sampling);
      lassoBtn.classed('active', s.lassoActive).attr('aria-pressed', s.lassoActive);
      imagesBtn.classed('active', Boolean(s.images)).attr('aria-pressed', Boolean(s.images));
    },
    status(text) { status.text(text); },
  };
}
