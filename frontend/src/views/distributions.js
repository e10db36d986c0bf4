// Distributions panel: a small histogram per column (the metric first) of what is in view, or of
// the selection when there is one, under the column filters, the whole dataset's shape behind in a
// light tone. Brushing a number or time histogram, ticking categories or typing text sets the
// column filters (state.columnFilters); the active ones are listed with a clear button. Export
// saves, as CSV or Parquet, the lasso, the selected ids (a cluster, "select these") or the
// highlighted search matches, else the whole dataset, under the keyword bars and column filters;
// its label says which.
import { select, scaleLinear, brushX, max } from 'd3';
import { setColumnFilter, filterOf, rangeFilter, toggleValue, containsFilter, describeFilter, OTHER } from '../lib/columnFilters.js';
import { fmtCount, fmtValue } from '../lib/format.js';
import { saveBlob } from '../lib/saveBlob.js';

const W = 250;
const H = 36;
const DEBOUNCE_MS = 250;
const TEXT_COLUMN = 'prompt';

const fmtTime = (ms) => new Date(ms).toISOString().slice(0, 10);

/** The scope of the histograms and the export: the lasso, a cluster's ids, or the main map's view. */
export function scopeOf(s) {
  if (s.lassoPolygon) return { polygon: s.lassoPolygon };
  if (s.highlight?.ids?.length) return { ids: s.highlight.ids };
  const b = s.drawn?.bbox;
  return b ? { bbox: b.map((v) => Math.round(v * 1e6) / 1e6) } : null;
}

/**
 * What the export buttons write: the lasso, the selected ids (a cluster, "select these"), the
 * highlighted search matches, else the whole dataset; each under the column filters. {body, label}.
 */
export function exportScope(s) {
  if (s.lassoPolygon) return { body: { polygon: s.lassoPolygon }, label: 'the lasso' };
  if (s.highlight?.ids?.length) return { body: { ids: s.highlight.ids }, label: 'the selected items' };
  if (s.highlight?.matchIds?.length) return { body: { ids: s.highlight.matchIds }, label: 'the search matches' };
  return { body: {}, label: 'the whole dataset' };
}

export function distributionsView(root, store, api) {
  const el = select(root).classed('distributions', true);
  const head = el.append('div').attr('class', 'panel-head');
  head.append('h2').text('Distributions & filters');
  const clearBtn = head.append('button').attr('type', 'button').attr('class', 'clear-filters').text('Clear filters')
    .on('click', () => store.set({ columnFilters: [] }));
  const summary = el.append('div').attr('class', 'dist-summary muted');
  const active = el.append('ul').attr('class', 'active-filters');
  const textLabel = el.append('label').text('Prompt contains');
  const textBox = textLabel.append('input').attr('type', 'search').attr('name', 'prompt-contains')
    .on('change', (event) => store.set({ columnFilters: setColumnFilter(store.get().columnFilters, TEXT_COLUMN, containsFilter(TEXT_COLUMN, event.target.value)) }));
  const list = el.append('div').attr('class', 'dist-list');
  const exportRow = el.append('div').attr('class', 'export-row');
  const exportLabel = exportRow.append('span').attr('class', 'muted export-scope');
  for (const format of ['csv', 'parquet']) {
    exportRow.append('button').attr('type', 'button').attr('class', `export-${format}`).text(format === 'csv' ? 'CSV' : 'Parquet')
      .on('click', () => exportAs(format));
  }

  let answer = null;
  let asked = '';
  const brushed = new WeakSet(); // the brush groups already given a brush
  const domains = new Map();     // column → [lo, hi] of its histogram
  let token = 0;
  let timer = null;

  function kindOf(name) {
    return answer?.columns.find((c) => c.name === name)?.kind ?? 'number';
  }
  const fmtFor = (v, column) => (kindOf(column) === 'time' ? fmtTime(v) : fmtValue(v));

  function refresh() {
    clearTimeout(timer);
    timer = setTimeout(load, DEBOUNCE_MS);
  }

  async function load() {
    const s = store.get();
    const scope = scopeOf(s);
    if (!s.mapInfo || !scope) return;
    const body = { ...scope, filters: s.columnFilters };
    const key = JSON.stringify([s.dataset, s.metric, body]);
    if (key === asked) return;
    asked = key;
    const my = ++token;
    try {
      const res = await api.postHistograms(s.dataset, s.metric, body);
      if (my !== token) return;
      answer = res;
      store.set({ filteredCount: s.columnFilters.length ? { n: res.n, of: res.n_scope, scope: scope.bbox ? 'in view' : 'selected' } : null });
      render(store.get());
    } catch (err) {
      if (my === token) { asked = ''; store.set({ error: `Distributions: ${err.message}` }); }
    }
  }

  async function exportAs(format) {
    const s = store.get();
    // The view is not a selection: without a lasso, ids or search matches, the whole dataset.
    const body = { ...exportScope(s).body, filters: s.columnFilters, rank: s.rank };
    if (s.filter.length && (body.polygon || body.ids)) body.bars = s.filter;
    const metric = s.lassoPolygon && s.lassoSlot === 'b' ? s.metricB : s.metric;
    try {
      const { blob, filename } = await api.exportSelection(s.dataset, metric, format, body);
      saveBlob(blob, filename);
    } catch (err) {
      store.set({ error: `Export failed: ${err.message}` });
    }
  }

  function drawNumeric(svg, col, s) {
    const edges = col.edges;
    const n = col.counts.length;
    const x = scaleLinear().domain([edges[0], edges[n]]).range([0, W]);
    const yOwn = scaleLinear().domain([0, max(col.counts) || 1]).range([H, 1]);
    const yAll = scaleLinear().domain([0, max(col.dataset) || 1]).range([H, 1]);
    const bars = (cls, counts, y) => svg.select(`g.${cls}`).selectAll('rect').data(counts).join('rect')
      .attr('x', (_, i) => x(edges[i]) + 0.5).attr('width', (_, i) => Math.max(1, x(edges[i + 1]) - x(edges[i]) - 1))
      .attr('y', (c) => y(c)).attr('height', (c) => H - y(c)).attr('data-count', (c) => c);
    bars('whole', col.dataset, yAll);
    bars('part', col.counts, yOwn);
    const f = filterOf(s.columnFilters, col.name);
    svg.select('rect.range-shade').style('display', f?.range ? null : 'none')
      .attr('x', f?.range ? x(Math.max(edges[0], f.range[0])) : 0).attr('y', 0).attr('height', H)
      .attr('width', f?.range ? Math.max(1, x(Math.min(edges[n], f.range[1])) - x(Math.max(edges[0], f.range[0]))) : 0);
    svg.select('.axis').selectAll('text').data([edges[0], edges[n]]).join('text')
      .attr('x', (_, i) => (i === 0 ? 0 : W)).attr('y', H + 11).attr('text-anchor', (_, i) => (i === 0 ? 'start' : 'end'))
      .text((v) => fmtFor(v, col.name));
    const g = svg.select('g.brush');
    domains.set(col.name, [edges[0], edges[n]]);
    if (!brushed.has(g.node())) {
      const column = col.name;
      const brush = brushX().extent([[0, 0], [W, H]]).on('end', (event) => {
        if (!event.sourceEvent) return; // our own clearing below
        const sx = scaleLinear().domain(domains.get(column)).range([0, W]);
        const next = event.selection ? rangeFilter(column, sx.invert(event.selection[0]), sx.invert(event.selection[1])) : null;
        store.set({ columnFilters: setColumnFilter(store.get().columnFilters, column, next) });
        // The shade shows the range from now on; the brush itself is cleared once its gesture is over.
        setTimeout(() => g.call(brush.move, null), 0);
      });
      g.call(brush);
      brushed.add(g.node());
    }
  }

  function drawCategories(card, col, s) {
    const f = filterOf(s.columnFilters, col.name);
    const entries = [...col.values.map((v, i) => ({ value: v, label: v, count: col.counts[i], whole: col.dataset[i] }))];
    if (col.counts.length > col.values.length && (col.dataset[col.values.length] ?? 0) > 0) {
      entries.push({ value: OTHER, label: 'other', count: col.counts[col.values.length], whole: col.dataset[col.values.length] });
    }
    if (col.missing_dataset > 0) entries.push({ value: null, label: 'missing', count: col.missing, whole: col.missing_dataset });
    const top = max(entries, (e) => e.count) || 1;
    const rows = card.select('.checklist').selectAll('label').data(entries, (e) => String(e.label)).join((enter) => {
      const l = enter.append('label').attr('class', 'check');
      l.append('input').attr('type', 'checkbox');
      l.append('span').attr('class', 'check-name');
      l.append('span').attr('class', 'check-bar');
      l.append('span').attr('class', 'check-count');
      return l;
    });
    const boolValue = (v) => (col.kind === 'boolean' && typeof v === 'string' ? v === 'true' : v);
    const ticked = (e) => (e.value === OTHER ? Boolean(f?.other) : Boolean(f?.in?.includes(boolValue(e.value))));
    rows.attr('data-value', (e) => String(e.label));
    rows.select('input').property('checked', ticked)
      .on('change', (_, e) => store.set({ columnFilters: toggleValue(store.get().columnFilters, col.name, e.value === OTHER ? OTHER : boolValue(e.value)) }));
    rows.select('.check-name').text((e) => e.label);
    rows.select('.check-bar').style('width', (e) => `${Math.round((60 * e.count) / top)}px`);
    rows.select('.check-count').text((e) => `${fmtCount(e.count)} / ${fmtCount(e.whole)}`);
  }

  function render(s) {
    clearBtn.property('disabled', s.columnFilters.length === 0);
    const out = exportScope(s);
    exportLabel.text(`Export ${out.label}${s.columnFilters.length ? ' (filtered)' : ''}: `)
      .attr('data-scope', out.label);
    el.attr('data-n', answer ? answer.n : null).attr('data-n-scope', answer ? answer.n_scope : null);
    const scope = scopeOf(s);
    summary.text(answer ? `${fmtCount(answer.n)} of ${fmtCount(answer.n_scope)} ${scope?.bbox ? 'in view' : 'selected'} pass the filters`
      + ' · light: the whole dataset' : 'Loading…');
    active.selectAll('li').data(s.columnFilters, (f) => f.column).join((enter) => {
      const li = enter.append('li');
      li.append('span').attr('class', 'af-text');
      li.append('button').attr('type', 'button').attr('class', 'af-remove').attr('aria-label', 'Remove this filter').text('×');
      return li;
    }).attr('data-column', (f) => f.column)
      .call((li) => li.select('.af-text').text((f) => describeFilter(f, fmtFor)))
      .call((li) => li.select('.af-remove').on('click', (_, f) => store.set({ columnFilters: setColumnFilter(store.get().columnFilters, f.column, null) })));
    textBox.property('value', filterOf(s.columnFilters, TEXT_COLUMN)?.contains ?? '');
    const cols = answer?.columns ?? [];
    const cards = list.selectAll('div.dist').data(cols, (c) => c.name).join((enter) => {
      const card = enter.append('div').attr('class', 'dist');
      card.append('div').attr('class', 'dist-title');
      return card;
    });
    cards.attr('data-column', (c) => c.name).attr('data-kind', (c) => c.kind)
      .classed('filtered', (c) => Boolean(filterOf(s.columnFilters, c.name)));
    cards.select('.dist-title').text((c) => `${c.name}${c.missing ? ` · ${fmtCount(c.missing)} missing` : ''}`);
    cards.each(function drawCard(col) {
      const card = select(this);
      const numeric = Boolean(col.edges);
      if (numeric && card.select('svg').empty()) {
        const svg = card.append('svg').attr('width', W).attr('height', H + 14);
        svg.append('g').attr('class', 'whole');
        svg.append('g').attr('class', 'part');
        svg.append('rect').attr('class', 'range-shade');
        svg.append('g').attr('class', 'axis');
        svg.append('g').attr('class', 'brush');
      }
      if (!numeric && card.select('.checklist').empty()) card.append('div').attr('class', 'checklist');
      if (numeric) drawNumeric(card.select('svg'), col, s); else drawCategories(card, col, s);
    });
  }

  store.subscribe((s, prev) => {
    if (s.mapInfo !== prev.mapInfo) { answer = null; asked = ''; }
    render(s);
    refresh();
  }, ['mapInfo', 'columnFilters', 'lassoPolygon', 'highlight']);
  // The view moves with every frame: only a new bbox asks again (debounced).
  let lastBox = '';
  store.subscribe((s) => {
    const box = JSON.stringify(s.drawn?.bbox ?? null);
    if (box !== lastBox) { lastBox = box; if (!s.lassoPolygon && !s.highlight) refresh(); }
  }, ['drawn']);
  render(store.get());
}
