// Compare panel: SPEC between two embedding spaces; each cluster (items one space groups and the
// other mixes) can be highlighted on the map and sent to the keyword view.
import { select } from 'd3';
import { fmtCount, fmtValue } from '../lib/format.js';

export function compareView(root, store, api) {
  const el = select(root).classed('compare', true);
  el.append('h2').text('Compare embeddings (SPEC)');
  const form = el.append('div').attr('class', 'cmp-form');
  const xSel = form.append('label').text('X ').append('select').attr('name', 'spec-x');
  const ySel = form.append('label').text('Y ').append('select').attr('name', 'spec-y');
  const kIn = form.append('label').text('k ').append('input').attr('type', 'number').attr('min', 1).attr('max', 50).attr('value', 10).attr('name', 'spec-k');
  const runBtn = form.append('button').attr('type', 'button').text('Run SPEC');
  const out = el.append('div').attr('class', 'cmp-out');
  let token = 0;

  function spaces(s) {
    return s.datasets.find((d) => d.name === s.dataset)?.spaces ?? [];
  }

  function thumbModel(space, s) {
    const gens = s.datasets.find((d) => d.name === s.dataset)?.generators ?? [];
    const m = /^image_(.+)$/.exec(space);
    return m && gens.includes(m[1]) ? m[1] : gens[0];
  }

  async function run() {
    const s = store.get();
    const x = xSel.property('value');
    const y = ySel.property('value');
    const k = Number(kIn.property('value'));
    if (x === y) { out.html('').append('div').attr('class', 'error-inline').text('Choose two different spaces for X and Y.'); return; }
    const my = ++token;
    out.html('<div class="muted"><span class="spinner"></span> Computing SPEC…</div>');
    el.attr('data-state', 'loading');
    try {
      const res = await api.getSpec(s.dataset, { x, y, k });
      if (my === token) render(res, s);
    } catch (err) {
      if (my !== token) return;
      el.attr('data-state', 'error');
      out.html('').append('div').attr('class', 'error-inline').text(`SPEC failed: ${err.message}`);
    }
  }
  runBtn.on('click', run);

  function render(res, s) {
    out.selectAll('*').remove();
    el.attr('data-state', 'ready').attr('data-clusters', res.clusters.length);
    out.append('div').attr('class', 'spec-score').html(`SPEC-diff <b>${fmtValue(res.spec_diff)}</b> · ${res.clusters.length} clusters`);
    const cards = out.selectAll('div.cluster').data(res.clusters).join('div').attr('class', 'cluster')
      .attr('data-index', (_, i) => i)
      .on('click', function choose(_, c) {
        const i = res.clusters.indexOf(c);
        out.selectAll('div.cluster').classed('active', (_, j) => j === i);
        const groups = c.side === 'x' ? res.x : res.y;
        store.set({ highlight: { label: `cluster ${i + 1} (${groups} groups)`, rows: c.rows, ids: c.ids }, lassoPolygon: null });
      });
    const head = cards.append('div').attr('class', 'cl-head');
    head.append('b').text((_, i) => `#${i + 1}`);
    head.append('span').text((c) => ` λ ${fmtValue(c.eigenvalue)} · ${fmtCount(c.size)} items · `);
    head.append('span').attr('class', 'side').text((c) => (c.side === 'x' ? `${res.x} groups, ${res.y} mixes` : `${res.y} groups, ${res.x} mixes`));
    const thumbs = cards.append('div').attr('class', 'cl-thumbs');
    thumbs.selectAll('img').data((c) => c.ids.slice(0, 4).map((id) => ({ id, space: c.side === 'x' ? res.x : res.y }))).join('img')
      .attr('src', (d) => api.imageUrl(s.dataset, d.id, thumbModel(d.space, s))).attr('alt', '').attr('loading', 'lazy');
    cards.append('ul').attr('class', 'cl-prompts').selectAll('li').data((c) => (c.sample_prompts || []).slice(0, 3)).join('li').text((p) => p);
  }

  store.subscribe((s, prev) => {
    const sp = spaces(s);
    el.style('display', sp.length >= 2 ? null : 'none');
    for (const [sel, fallback] of [[xSel, sp.find((n) => n.startsWith('image_')) ?? sp[0]], [ySel, sp.filter((n) => n.startsWith('image_'))[1] ?? sp[1]]]) {
      const keep = sel.property('value');
      sel.selectAll('option').data(sp, (d) => d).join('option').attr('value', (d) => d).text((d) => d);
      sel.property('value', sp.includes(keep) && s.dataset === prev.dataset ? keep : fallback ?? '');
    }
    if (s.dataset !== prev.dataset) { token += 1; out.selectAll('*').remove(); el.attr('data-state', null); }
  }, ['datasets', 'dataset']);
}
