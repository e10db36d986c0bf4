// Keyword view: the lasso selection's size and statistics, one small histogram per keyword;
// clicking bars filters the overview (bars of a keyword add up, keywords narrow).
import { select, scaleLinear, max } from 'd3';
import { toggleBar, filterMatches } from '../lib/filter.js';
import { downloadSelectionIds } from '../lib/selectionIds.js';
import { fmtCount, fmtValue } from '../lib/format.js';
import { metricOf } from '../state.js';

const W = 250;
export const RANKS = ['lift', 'frequency'];
const RANK_TITLES = {
  lift: 'Keywords more frequent in the selection than in the whole dataset first',
  frequency: 'The most frequent keywords of the selection first',
};
const H = 54;

export function keywordsView(root, store, api) {
  const el = select(root).classed('keywords', true);
  const head = el.append('div').attr('class', 'panel-head');
  head.append('h2').text('Selection & keywords');
  const clearBtn = head.append('button').attr('type', 'button').attr('class', 'clear-filter').text('Clear filter')
    .on('click', () => store.set({ filter: [] }));
  head.append('button').attr('type', 'button').attr('class', 'clear-selection').text('Clear selection')
    .on('click', () => store.set({ lassoPolygon: null, selection: null, filter: [], highlight: null }));
  const summary = el.append('div').attr('class', 'sel-summary');
  const actions = el.append('div').attr('class', 'sel-actions');
  const idsBtn = actions.append('button').attr('type', 'button').attr('class', 'download-ids').text('Download ids')
    .attr('title', 'Save the ids of every selected item as a text file, one per line')
    .on('click', () => downloadIds());
  const rankSeg = el.append('div').attr('class', 'seg rank').attr('role', 'group').attr('aria-label', 'Keyword ranking');
  rankSeg.append('span').attr('class', 'muted rank-label').text('Rank by ');
  rankSeg.selectAll('button').data(RANKS).join('button').attr('type', 'button')
    .attr('data-rank', (d) => d).attr('title', (d) => RANK_TITLES[d]).text((d) => d)
    .on('click', (_, d) => store.set({ rank: d }));
  const filterNote = el.append('div').attr('class', 'filter-note');
  const list = el.append('div').attr('class', 'kw-list');
  let token = 0;
  let note = '';
  let request = null; // {dataset, metric, body} of the selection shown
  let downloading = false;

  async function fetchSelection(s, body, source) {
    const my = ++token;
    note = '';
    const metric = metricOf(s, source === 'lasso' ? s.lassoSlot : 'a');
    request = { dataset: s.dataset, metric, body, source };
    store.set({ selectionLoading: true, selection: null, filter: [], selectionSource: source });
    try {
      const filters = s.columnFilters.length ? { filters: s.columnFilters } : {};
      const res = await api.postSelection(s.dataset, metric, { ...body, ...filters, rank: s.rank });
      if (my === token) store.set({ selection: res, selectionLoading: false });
    } catch (err) {
      if (my !== token) return;
      if (source === 'cluster') {
        // The cluster is still drawn on the map; only its keywords are missing, so say so here.
        note = `Keywords for this cluster are not available: ${err.message}`;
        store.set({ selectionLoading: false });
        render(store.get());
      } else store.set({ selectionLoading: false, error: `Selection failed: ${err.message}` });
    }
  }

  async function downloadIds() {
    const sel = store.get().selection;
    if (!sel || !request || downloading) return;
    downloading = true;
    render(store.get());
    const asked = request;
    try {
      await downloadSelectionIds(api, asked, sel.count, (got) => idsBtn.text(`Saving ${Math.round((100 * got) / Math.max(1, sel.count))}%…`));
    } catch (err) {
      store.set({ error: `Downloading the selection's ids failed: ${err.message}` });
    } finally {
      downloading = false;
      idsBtn.text('Download ids');
      render(store.get());
    }
  }

  function render(s) {
    const sel = s.selection;
    idsBtn.property('disabled', !sel || sel.count === 0 || downloading);
    actions.style('display', sel && !s.selectionLoading ? null : 'none');
    el.attr('data-count', sel ? sel.count : null).attr('data-keywords', sel ? sel.keywords.keywords.length : null);
    clearBtn.property('disabled', s.filter.length === 0);
    rankSeg.style('display', sel && sel.keywords.keywords.length ? null : 'none');
    rankSeg.selectAll('button').classed('active', (d) => d === s.rank).attr('aria-pressed', (d) => d === s.rank);
    if (s.selectionLoading) {
      summary.html('<span class="spinner"></span> Selecting and finding keywords…');
      list.selectAll('*').remove(); filterNote.text('');
      return;
    }
    if (!sel && note) {
      summary.html('').append('div').attr('class', 'muted').text(note);
      list.selectAll('*').remove(); filterNote.text('');
      return;
    }
    if (!sel) {
      summary.html('<span class="muted">Press <kbd>L</kbd> or the Lasso button and draw around a region to see its items and keywords.</span>');
      list.selectAll('*').remove(); filterNote.text('');
      return;
    }
    const st = sel.stats || {};
    const source = s.selectionSource === 'cluster' && s.highlight ? ` (${s.highlight.label})` : '';
    summary.html(`<b class="sel-count">${fmtCount(sel.count)}</b> items selected${source}<br>`
      + `<span class="stats">mean ${fmtValue(st.mean)} · sd ${fmtValue(st.std)} · median ${fmtValue(st.median)} · min ${fmtValue(st.min)} · max ${fmtValue(st.max)}</span>`
      + (sel.keywords.sampled ? `<br><span class="muted">keywords from ${fmtCount(sel.keywords.n_used)} of ${fmtCount(sel.keywords.n_selected)} prompts</span>` : '')
      + (sel.sample.sampled ? `<br><span class="muted sample-note">bars estimated from a random ${fmtCount(sel.sample.size)} of the selected items, which the map marks</span>` : ''));
    let matches = null;
    try { matches = filterMatches(sel, s.filter); } catch { matches = null; }
    const about = sel.sample.sampled ? '≈' : '';
    filterNote.text(matches ? `Filter: ${about}${fmtCount(matches.estimate)} items match (${s.filter.length} bar${s.filter.length > 1 ? 's' : ''}; bars of one keyword add up, different keywords narrow)` : (sel.keywords.keywords.length ? 'Click bars to filter the map to those items.' : 'No keywords found for this selection.'));
    el.attr('data-filtered', matches ? matches.estimate : null).attr('data-sampled', sel.sample.sampled ? 'true' : 'false');

    const chosen = new Set(s.filter.map((f) => `${f.keyword}\u0000${f.bin}`));
    const cards = list.selectAll('div.kw').data(sel.keywords.keywords, (k) => k.keyword).join((enter) => {
      const card = enter.append('div').attr('class', 'kw');
      const title = card.append('div').attr('class', 'kw-title');
      title.append('span').attr('class', 'kw-name');
      title.append('span').attr('class', 'kw-count');
      const svg = card.append('svg').attr('width', W).attr('height', H + 14);
      svg.append('g').attr('class', 'bars');
      svg.append('g').attr('class', 'axis');
      return card;
    });
    cards.attr('data-keyword', (k) => k.keyword);
    cards.select('.kw-name').text((k) => k.keyword);
    cards.select('.kw-count').attr('data-in-selection', (k) => k.in_selection).attr('data-in-dataset', (k) => k.in_dataset)
      .text((k) => `${fmtCount(k.in_selection)} in selection · ${fmtCount(k.in_dataset)} in dataset`)
      .attr('title', (k) => `${k.in_selection} selected prompts and ${k.in_dataset} of the dataset's contain "${k.keyword}"`
        + ` (${s.rank} score ${fmtValue(k.score)})`);
    cards.each(function drawHistogram(k) {
      const svg = select(this).select('svg');
      const bins = k.bins;
      const y = scaleLinear().domain([0, max(bins, (b) => b.count) || 1]).range([H, 2]);
      const bw = W / Math.max(1, bins.length);
      svg.select('.bars').selectAll('rect').data(bins.map((b, i) => ({ ...b, i })), (b) => b.i).join('rect')
        .attr('class', (b) => `bar${chosen.has(`${k.keyword}\u0000${b.i}`) ? ' chosen' : ''}${b.count === 0 ? ' empty' : ''}`)
        .attr('data-bin', (b) => b.i).attr('data-count', (b) => b.count)
        .attr('x', (b) => b.i * bw + 0.5).attr('width', Math.max(1, bw - 1))
        .attr('y', (b) => (b.count ? Math.min(y(b.count), H - 2) : H - 1)).attr('height', (b) => (b.count ? Math.max(2, H - y(b.count)) : 1))
        .attr('tabindex', (b) => (b.count ? 0 : null)).attr('role', 'button')
        .attr('aria-pressed', (b) => chosen.has(`${k.keyword}\u0000${b.i}`))
        .on('click', (_, b) => { if (b.count) store.set({ filter: toggleBar(store.get().filter, k.keyword, b.i) }); })
        .on('keydown', (event, b) => {
          if ((event.key === 'Enter' || event.key === ' ') && b.count) {
            event.preventDefault();
            store.set({ filter: toggleBar(store.get().filter, k.keyword, b.i) });
          }
        })
        .selectAll('title').data((b) => [b]).join('title')
        .text((b) => `similarity ${fmtValue(b.lo)}–${fmtValue(b.hi)}: ${about}${fmtCount(b.count)} items (click to filter)`);
      const axis = svg.select('.axis').selectAll('text').data(bins.length ? [bins[0].lo, bins[bins.length - 1].hi] : []).join('text')
        .attr('x', (_, i) => (i === 0 ? 0 : W)).attr('y', H + 12).attr('text-anchor', (_, i) => (i === 0 ? 'start' : 'end'))
        .text((v, i) => `${i === 0 ? 'similarity ' : ''}${fmtValue(v)}`);
      return axis;
    });
  }

  store.subscribe((s, prev) => {
    if (s.lassoPolygon !== prev.lassoPolygon) {
      if (s.lassoPolygon) fetchSelection(s, { polygon: s.lassoPolygon }, 'lasso');
      else { token += 1; note = ''; store.set({ selection: null, selectionLoading: false }); }
    }
    if (s.highlight !== prev.highlight && s.highlight && s.highlight.ids?.length) {
      fetchSelection(s, { ids: s.highlight.ids }, 'cluster');
    }
    if ((s.rank !== prev.rank || s.columnFilters !== prev.columnFilters) && request && (store.get().selection || store.get().selectionLoading)) {
      fetchSelection(s, request.body, request.source);
    }
    if (s.mapInfo !== prev.mapInfo) { token += 1; store.set({ selection: null, selectionLoading: false, filter: [], lassoPolygon: null }); }
    render(store.get());
  }, ['lassoPolygon', 'selection', 'selectionLoading', 'filter', 'highlight', 'mapInfo', 'rank', 'columnFilters']);
  render(store.get());
}
