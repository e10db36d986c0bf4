// Colour legend: the band colours with their values and the unit, the masked-cell swatch, and
// what the points and highlights mean in the current mode.
import { select } from 'd3';
import { fmtValue } from '../lib/format.js';

/**
 * Which band edges get a label: both ends and a few between, never two crowded together;
 * a diverging scale gets mirror-image labels and 0 at its centre.
 */
export function legendTicks(edges, diverging) {
  const last = edges.length - 1;
  if (diverging) {
    const ticks = [{ v: edges[0], i: 0 }, { v: 0, i: last / 2 }, { v: edges[last], i: last }];
    const inner = Math.floor(last / 4);
    if (inner > 0 && last / 2 - inner >= 2) ticks.splice(1, 0, { v: edges[inner], i: inner });
    if (inner > 0 && last / 2 - inner >= 2) ticks.splice(ticks.length - 1, 0, { v: edges[last - inner], i: last - inner });
    return ticks;
  }
  const every = Math.ceil(edges.length / 6);
  const ticks = edges.map((v, i) => ({ v, i })).filter(({ i }) => i % every === 0 && last - i >= every);
  ticks.push({ v: edges[last], i: last });
  return ticks;
}

/** Render the legend into `root` for a colour scale and map info; `pointColour` (lib/pointColour.js) when the points are coloured by a column. */
export function renderLegend(root, { scale, mapInfo, mode, generators, filtered, pointColour = null, columnFilters = 0 }) {
  const el = select(root);
  el.selectAll('*').remove();
  if (!scale || !mapInfo) return;
  const width = 300;
  const pad = 22;
  const barH = 12;
  const n = scale.bands;
  const unit = mapInfo.unit ? ` (${mapInfo.unit})` : '';
  el.append('div').attr('class', 'legend-title')
    .text(`${mapInfo.metric}${unit}${scale.diverging ? ' · centred at 0' : ''}`);
  const box = el.append('div').attr('class', 'legend-box');
  const svg = box.append('svg').attr('class', 'legend-bar').attr('width', width + 2 * pad).attr('height', barH + 22);
  const g = svg.append('g').attr('transform', `translate(${pad},2)`);
  const step = width / n;
  g.selectAll('rect').data(scale.bandColours).join('rect')
    .attr('x', (_, i) => i * step).attr('width', step + 0.5).attr('height', barH)
    .attr('fill', (c) => c).attr('data-colour', (c) => c);
  const edges = [scale.domain[0], ...scale.thresholds, scale.domain[1]];
  g.selectAll('text').data(legendTicks(edges, scale.diverging)).join('text')
    .attr('x', ({ i }) => i * step).attr('y', barH + 14).attr('text-anchor', 'middle')
    .text(({ v, i }) => `${i === 0 ? '≤' : i === edges.length - 1 ? '≥' : ''}${fmtValue(v)}`);
  if (scale.diverging) {
    const [a, b] = generators && generators.length === 2 ? generators : ['A', 'B'];
    box.append('div').attr('class', 'legend-note diverging')
      .html(`<span>← ${a} scores higher</span><span>${b} scores higher →</span>`);
  }
  const keys = el.append('div').attr('class', 'legend-keys');
  if (mode !== 'scatter' && mapInfo.mask && mapInfo.mask.enabled) {
    const item = keys.append('span').attr('class', 'legend-key');
    item.append('span').attr('class', 'swatch hatch');
    item.append('span').text(`masked: no item within ${fmtValue(mapInfo.mask.radius)} (not estimated)`);
  }
  if (mode !== 'contour' && pointColour) renderPointLegend(el, pointColour);
  else if (mode !== 'contour') {
    const item = keys.append('span').attr('class', 'legend-key');
    item.append('span').attr('class', 'swatch dot');
    item.append('span').text(mode === 'overlay' ? 'sampled items, coloured by their own value' : 'every item, coloured by its value');
  }
  if (mode !== 'scatter') {
    keys.append('span').attr('class', 'legend-key')
      .append('span').text('bands: kernel-regression estimate of the metric');
  }
  if (columnFilters > 0 && mode !== 'contour') {
    const item = keys.append('span').attr('class', 'legend-key failing-key');
    item.append('span').attr('class', 'swatch dot').style('background', '#b9b9b9');
    item.append('span').text(`grey: fails the column filter${columnFilters > 1 ? 's' : ''}`);
  }
  if (filtered) {
    const item = keys.append('span').attr('class', 'legend-key');
    item.append('span').attr('class', 'swatch dot ringed');
    item.append('span').text(`${filtered}; other items grey`);
  }
}

const fmtTime = (ms) => new Date(ms).toISOString().slice(0, 10);

/** The points' own key when they are coloured by a column: a swatch per category, or a gradient. */
function renderPointLegend(el, pc) {
  const box = el.append('div').attr('class', 'point-legend').attr('data-column', pc.name).attr('data-kind', pc.kind);
  box.append('span').attr('class', 'point-legend-title').text(`points coloured by ${pc.name}:`);
  if (pc.kind === 'category') {
    const items = box.selectAll('span.legend-key').data(pc.entries).join('span').attr('class', 'legend-key');
    items.append('span').attr('class', 'swatch dot').attr('data-point-colour', (d) => d.colour).style('background', (d) => d.colour);
    items.append('span').text((d) => d.label);
    return;
  }
  const fmt = pc.kind === 'time' ? fmtTime : fmtValue;
  box.append('span').attr('class', 'point-legend-lo').text(fmt(pc.domain[0]));
  box.append('span').attr('class', 'gradient')
    .style('background', `linear-gradient(to right, ${pc.entries.map((e) => `${e.colour} ${e.t * 100}%`).join(', ')})`)
    .selectAll('i').data(pc.entries).join('i').attr('data-point-colour', (d) => d.colour);
  box.append('span').attr('class', 'point-legend-hi').text(fmt(pc.domain[1]));
}
