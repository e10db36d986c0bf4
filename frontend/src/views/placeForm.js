// "Place on the map": a prompt and/or an image (or embeddings as JSON) sent to every map shown (the
// main one and the side-by-side one); the answer becomes a placed point, kept in a short list until
// removed or cleared. Placing pans the main map to the new point and shows it in the placed view.
import { select } from 'd3';
import { addPlaced, placedLabel, removePlaced } from '../lib/placed.js';

const ACCEPT = 'image/png,image/jpeg,image/webp';

export function placeForm(root, store, api) {
  const el = select(root).classed('place', true).attr('data-state', 'empty');
  el.append('h2').text('Place on the map');
  const form = el.append('form').attr('class', 'place-form').on('submit', (event) => { event.preventDefault(); place(); });
  const prompt = form.append('textarea').attr('name', 'place-prompt').attr('rows', 2).attr('maxlength', 4000)
    .attr('placeholder', 'A prompt (the dataset\'s encoder embeds it)');
  const image = form.append('input').attr('type', 'file').attr('name', 'place-image').attr('accept', ACCEPT)
    .attr('aria-label', 'Image (PNG, JPEG or WebP)');
  const more = form.append('details');
  more.append('summary').text('or embeddings (JSON)');
  const features = more.append('textarea').attr('name', 'place-features').attr('rows', 3)
    .attr('placeholder', '{"text": [...], "image_a": [...]}');
  const actions = form.append('div').attr('class', 'place-actions');
  actions.append('button').attr('type', 'submit').attr('name', 'place-submit').text('Place');
  actions.append('button').attr('type', 'button').attr('name', 'place-clear').text('Clear all')
    .on('click', () => store.set({ placed: [], placedActive: null }));
  const note = el.append('div').attr('class', 'place-note muted small');
  const list = el.append('ul').attr('class', 'placed-list');
  let counter = 0;

  function readFeatures() {
    const text = features.property('value').trim();
    if (!text) return undefined;
    try { return JSON.parse(text); } catch (err) { throw new Error(`the embeddings are not JSON (${err.message})`); }
  }

  async function place() {
    const s = store.get();
    const metrics = [s.metric, s.metricB].filter((m, i, all) => m && all.indexOf(m) === i);
    if (!s.dataset || metrics.length === 0) return;
    const file = image.property('files')?.[0];
    let body;
    try {
      body = { prompt: prompt.property('value').trim() || undefined, image: file, features: readFeatures() };
      if (!body.prompt && !body.image && !body.features) throw new Error('give a prompt, an image or embeddings');
    } catch (err) { fail(err); return; }
    el.attr('data-state', 'loading');
    note.text('Placing…');
    try {
      const answers = await Promise.all(metrics.map((m) => api.postPlace(s.dataset, m, body)));
      counter += 1;
      const entry = {
        id: `placed-${counter}`, label: placedLabel(body), prompt: body.prompt ?? null, dataset: s.dataset,
        image: file ? URL.createObjectURL(file) : null,
        results: Object.fromEntries(metrics.map((m, i) => [m, answers[i]])),
      };
      const [x, y] = answers[0].position;
      store.set({ placed: addPlaced(store.get().placed, entry), placedActive: entry.id, focus: { x, y, id: null } });
      el.attr('data-state', 'ready');
      note.text((answers[0].warnings ?? []).join(' '));
    } catch (err) { fail(err); }
  }

  function fail(err) {
    el.attr('data-state', 'error');
    note.text(`Could not place: ${err.message}`);
  }

  function render(s) {
    const items = list.selectAll('li').data(s.placed, (p) => p.id).join((enter) => {
      const li = enter.append('li');
      li.append('button').attr('type', 'button').attr('class', 'placed-name');
      li.append('button').attr('type', 'button').attr('class', 'placed-remove').attr('aria-label', 'remove').text('×');
      return li;
    });
    items.attr('data-id', (p) => p.id).classed('active', (p) => p.id === s.placedActive);
    items.select('.placed-name').text((p) => p.label).on('click', (_, p) => {
      const r = p.results[s.metric];
      store.set({ placedActive: p.id, ...(r ? { focus: { x: r.position[0], y: r.position[1], id: null } } : {}) });
    });
    items.select('.placed-remove').on('click', (_, p) => {
      if (p.image) URL.revokeObjectURL(p.image);
      const next = removePlaced(store.get().placed, p.id);
      store.set({ placed: next, placedActive: s.placedActive === p.id ? next[0]?.id ?? null : s.placedActive });
    });
  }

  store.subscribe((s, prev) => {
    // Placed points belong to one dataset's maps; a map shown later has no answer for them.
    if (s.dataset !== prev.dataset && s.placed.length) { store.set({ placed: [], placedActive: null }); return; }
    render(s);
  }, ['placed', 'placedActive', 'dataset']);
}
