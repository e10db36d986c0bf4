// Search bar above the maps: prompts by their words (text) or by meaning (MiniLM, with a similarity
// threshold). Shows the count and the first page with scores, highlights every match on the maps
// (the rest greyed, through the shared `highlight`), and "Select these" sends them to the keyword view.
import { select } from 'd3';
import { fmtCount, fmtValue } from '../lib/format.js';
import { countText, searchHighlight } from '../lib/searchResults.js';

const PAGE = 10;
const ALL = { text: 100000, semantic: 10000 };
const DEBOUNCE_MS = 300;

export function searchView(root, store, api) {
  const el = select(root).classed('search-bar', true).attr('data-state', 'empty');
  const form = el.append('form').attr('class', 'search-form').attr('role', 'search')
    .on('submit', (event) => { event.preventDefault(); run(); });
  const input = form.append('input').attr('type', 'search').attr('name', 'search-q')
    .attr('placeholder', 'Search prompts…').attr('aria-label', 'Search prompts').attr('maxlength', 4000)
    .on('input', () => later(run));
  const seg = form.append('div').attr('class', 'seg search-mode').attr('role', 'group').attr('aria-label', 'Search by');
  const modes = [['text', 'words'], ['semantic', 'meaning']];
  seg.selectAll('button').data(modes).join('button').attr('type', 'button').attr('data-mode', (d) => d[0])
    .text((d) => d[1]).on('click', (_, d) => { mode = d[0]; renderMode(); run(); });
  const thresholdLabel = form.append('label').attr('class', 'search-threshold');
  thresholdLabel.append('span').text('similarity ≥ ');
  const slider = thresholdLabel.append('input').attr('type', 'range').attr('name', 'search-threshold')
    .attr('min', 0).attr('max', 1).attr('step', 0.01).attr('value', 0.5)
    .on('input', () => { thresholdValue.text(Number(slider.property('value')).toFixed(2)); later(run); });
  const thresholdValue = thresholdLabel.append('b').text('0.50');
  form.append('button').attr('type', 'submit').text('Search');
  const selectBtn = form.append('button').attr('type', 'button').attr('name', 'search-select')
    .text('Select these').property('disabled', true).on('click', selectThese);
  form.append('button').attr('type', 'button').attr('name', 'search-clear').text('Clear').on('click', clear);
  const summary = el.append('div').attr('class', 'search-summary');
  const list = el.append('ol').attr('class', 'search-results');

  let mode = 'text';
  let token = 0;
  let timer = null;
  let last = null; // {query, all} of the latest answer

  function later(fn) { clearTimeout(timer); timer = setTimeout(fn, DEBOUNCE_MS); }
  function renderMode() {
    seg.selectAll('button').classed('active', (d) => d[0] === mode);
    thresholdLabel.style('display', mode === 'semantic' ? null : 'none');
  }

  async function run() {
    clearTimeout(timer);
    const s = store.get();
    const q = input.property('value').trim();
    if (!s.dataset) return;
    if (!q) { clear(); return; }
    const query = { q, mode, minScore: mode === 'semantic' ? Number(slider.property('value')) : undefined };
    const my = ++token;
    el.attr('data-state', 'loading');
    summary.text('Searching…');
    try {
      const [page, all] = await Promise.all([
        api.search(s.dataset, { ...query, limit: PAGE, fields: ['rows', 'ids', 'prompts', 'scores'] }),
        api.search(s.dataset, { ...query, limit: ALL[mode], fields: ['rows', 'ids'] }),
      ]);
      if (my !== token) return;
      last = { query, all };
      render(page);
      store.set({ highlight: all.rows.length ? searchHighlight(all, query) : null, lassoPolygon: null });
    } catch (err) {
      if (my !== token) return;
      last = null;
      el.attr('data-state', 'error');
      summary.text(`Search failed: ${err.message}`);
      list.selectAll('*').remove();
      selectBtn.property('disabled', true);
    }
  }

  function render(page) {
    el.attr('data-state', 'ready').attr('data-count', page.count);
    summary.text(`${countText(page, fmtCount)}${page.warning ? ` · ${page.warning}` : ''}`);
    selectBtn.property('disabled', page.count === 0);
    list.selectAll('li').data(page.rows.map((row, i) => ({ row, id: page.ids[i], prompt: page.prompts[i], score: page.scores[i] })))
      .join('li').attr('data-id', (d) => d.id).attr('title', 'show this item')
      .on('click', (_, d) => store.set({ item: d.id }))
      .call((li) => {
        li.selectAll('*').remove();
        li.append('span').attr('class', 'prompt').text((d) => d.prompt);
        li.append('span').attr('class', 'score').text((d) => fmtValue(d.score));
      });
  }

  function selectThese() {
    if (!last) return;
    store.set({ highlight: searchHighlight(last.all, last.query, { select: true }), lassoPolygon: null });
  }

  function clear() {
    token += 1;
    last = null;
    el.attr('data-state', 'empty').attr('data-count', null);
    summary.text('');
    list.selectAll('*').remove();
    selectBtn.property('disabled', true);
    if (store.get().highlight?.source === 'search') store.set({ highlight: null });
  }

  store.subscribe((s, prev) => {
    if (s.dataset !== prev.dataset) { input.property('value', ''); clear(); }
  }, ['dataset']);
  renderMode();
}
