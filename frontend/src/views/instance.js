// Instance view: the clicked item's image(s) large, its prompt and metric values, and a row of
// similar images (Faiss) with scores; clicking one selects it and pans the map to it.
import { select } from 'd3';
import { fmtValue } from '../lib/format.js';

export function instanceView(root, store, api) {
  const el = select(root).classed('instance', true);
  const head = el.append('div').attr('class', 'panel-head');
  head.append('h2').text('Item');
  const modelSeg = head.append('div').attr('class', 'seg model-seg').attr('role', 'group').attr('aria-label', 'Similar images from');
  const body = el.append('div').attr('class', 'inst-body');
  let token = 0;
  let panToNext = false;
  let model = null;

  function generatorsOf(s) {
    return s.datasets.find((d) => d.name === s.dataset)?.generators ?? [];
  }

  function defaultModel(s) {
    const ds = s.datasets.find((d) => d.name === s.dataset);
    const m = ds?.metrics.find((x) => x.name === s.metric);
    const gens = m?.generators ?? ds?.generators ?? [];
    return m?.kind === 'difference' ? gens[1] ?? gens[0] : gens[0];
  }

  async function load(s) {
    const my = ++token;
    const id = s.item;
    if (!id) { render(s, null, null); return; }
    body.html('<div class="muted"><span class="spinner"></span> Loading item…</div>');
    el.attr('data-item', id).attr('data-state', 'loading');
    try {
      const item = await api.getItem(s.dataset, id);
      if (my !== token) return;

      if (panToNext) {
        panToNext = false;
        const p = item.positions?.[s.metric];
        if (p) store.set({ focus: { x: p[0], y: p[1], id } });
      }
      render(s, item, null);
      let similar;
      try {
        similar = await api.getSimilar(s.dataset, id, { k: 8, model });
      } catch (err) {
        // the item stays shown; only its similar images could not be found (e.g. no index built)
        similar = { error: err.message };
      }
      if (my !== token) return;
      render(s, item, similar);
    } catch (err) {
      if (my !== token) return;
      el.attr('data-state', 'error');
      body.html('');
      body.append('div').attr('class', 'error-inline').text(`Could not load item ${id}: ${err.message}`);
    }
  }

  function render(s, item, similar) {
    body.selectAll('*').remove();
    if (!item) {
      el.attr('data-item', null).attr('data-state', 'empty');
      body.append('div').attr('class', 'muted').text('Click a point on the map to see its image, prompt and similar images.');
      return;
    }
    el.attr('data-state', similar ? (similar.error ? 'similar-error' : 'ready') : 'loading-similar');
    const gens = Object.keys(item.images || {});
    const images = body.append('div').attr('class', `inst-images n${gens.length}`);
    for (const g of gens) {
      const fig = images.append('figure');
      fig.append('img').attr('src', item.images[g]).attr('alt', `image from generator ${g}`).attr('data-generator', g);
      const score = Object.entries(item.metrics || {}).find(([name]) => name.endsWith(`_${g}`));
      fig.append('figcaption').text(`${g}${score ? ` · ${score[0]} ${fmtValue(score[1])}` : ''}`);
    }
    body.append('p').attr('class', 'inst-prompt').text(item.prompt);
    const table = body.append('table').attr('class', 'inst-metrics');
    for (const [name, value] of Object.entries(item.metrics || {})) {
      const tr = table.append('tr').classed('current', name === s.metric);
      tr.append('th').text(name);
      tr.append('td').text(fmtValue(value));
    }
    body.append('div').attr('class', 'muted small').text(`id ${item.id} · ${item.split ?? ''}`);
    const simHead = body.append('h3').text('Similar images');
    if (!similar) { simHead.append('span').attr('class', 'spinner'); return; }
    if (similar.error) {
      body.append('div').attr('class', 'error-inline similar-error').text(`Could not find similar images: ${similar.error}`);
      return;
    }
    simHead.append('span').attr('class', 'muted small').text(` (${similar.model}, cosine)`);
    const row = body.append('div').attr('class', 'similar-row').attr('data-model', similar.model);
    const cards = row.selectAll('button').data(similar.neighbours).join('button')
      .attr('type', 'button').attr('class', 'similar').attr('data-id', (d) => d.id)
      .attr('title', (d) => d.prompt)
      .on('click', (_, d) => { panToNext = true; store.set({ item: d.id }); });
    cards.append('img').attr('src', (d) => d.image).attr('alt', (d) => d.prompt);
    cards.append('span').attr('class', 'score').text((d) => fmtValue(d.score));
  }

  function renderModels(s) {
    const gens = generatorsOf(s);
    modelSeg.style('display', gens.length > 1 ? null : 'none');
    modelSeg.selectAll('button').data(gens, (g) => g).join('button').attr('type', 'button')
      .text((g) => g).attr('title', (g) => `similar images among generator ${g}`)
      .classed('active', (g) => g === model)
      .on('click', (_, g) => { model = g; renderModels(store.get()); load(store.get()); });
  }

  store.subscribe((s, prev) => {
    if (s.dataset !== prev.dataset || s.metric !== prev.metric || !model) model = defaultModel(s);
    renderModels(s);
    if (s.dataset !== prev.dataset) { store.set({ item: null }); return; }
    if (s.item !== prev.item || s.dataset !== prev.dataset) load(s);
  }, ['item', 'dataset', 'metric', 'datasets']);
  render(store.get(), null, null);
}
