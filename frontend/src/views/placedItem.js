// The placed point's own instance view: what was placed (image, prompt), where it landed on each
// map with the map's estimate there and the pair's own metric, and its nearest items on the map
// (clicking one shows that item).
import { select } from 'd3';
import { fmtValue } from '../lib/format.js';

export function placedItemView(root, store, api) {
  const el = select(root).classed('placed-item', true).style('display', 'none');
  el.append('h2').text('Placed point');
  const body = el.append('div').attr('class', 'inst-body');

  function render(s) {
    const p = s.placed.find((x) => x.id === s.placedActive);
    el.style('display', p ? null : 'none').attr('data-id', p?.id ?? null);
    body.selectAll('*').remove();
    if (!p) return;
    if (p.image) body.append('img').attr('class', 'placed-image').attr('src', p.image).attr('alt', 'the placed image');
    if (p.prompt) body.append('p').attr('class', 'inst-prompt').text(p.prompt);
    const table = body.append('table').attr('class', 'inst-metrics placed-metrics');
    const head = table.append('tr');
    for (const h of ['map', 'x, y', 'map says', 'pair', 'diff']) head.append('th').text(h);
    for (const [metric, r] of Object.entries(p.results)) {
      const tr = table.append('tr').classed('current', metric === s.metric).attr('data-metric', metric);
      tr.append('td').text(metric);
      tr.append('td').text(`${r.position[0].toFixed(3)}, ${r.position[1].toFixed(3)}`);
      tr.append('td').attr('class', 'predicted').text(fmtValue(r.predicted));
      tr.append('td').text(fmtValue(r.actual));
      tr.append('td').text(fmtValue(r.difference));
    }
    const r = p.results[s.metric] ?? Object.values(p.results)[0];
    const notes = [...Object.entries(r.imputed ?? {}).map(([space, how]) => `${space}: ${how}`), ...(r.warnings ?? [])];
    if (notes.length) body.append('div').attr('class', 'muted small').text(notes.join(' · '));
    body.append('h3').text('Nearest on the map');
    const ds = s.datasets.find((d) => d.name === p.dataset);
    const model = ds?.metrics.find((m) => m.name === s.metric)?.generators?.[0] ?? ds?.generators?.[0];
    const row = body.append('div').attr('class', 'similar-row placed-neighbours');
    const cards = row.selectAll('button').data(r.neighbours).join('button').attr('type', 'button')
      .attr('class', 'similar').attr('data-id', (d) => d.id).attr('title', (d) => d.prompt)
      .on('click', (_, d) => store.set({ item: d.id, focus: { x: d.position[0], y: d.position[1], id: d.id } }));
    cards.append('img').attr('src', (d) => api.imageUrl(p.dataset, d.id, model)).attr('alt', (d) => d.prompt);
    cards.append('span').attr('class', 'score').text((d) => fmtValue(d.value));
  }

  store.subscribe(render, ['placed', 'placedActive', 'metric', 'datasets']);
}
