// Settings panel: choose dataset and metric; say what they are and how the current level was built.
import { select } from 'd3';
import { fmtCount, fmtValue } from '../lib/format.js';

function metricLabel(metric) {
  if (metric.kind === 'difference' && metric.generators?.length === 2) {
    return `${metric.name} — difference ${metric.generators[1]} − ${metric.generators[0]}`;
  }
  const gens = metric.generators?.length ? ` — generator ${metric.generators.join(', ')}` : '';
  return `${metric.name}${gens}${metric.built ? '' : ' (not built)'}`;
}

function groupOf(metric) {
  if (metric.kind === 'difference') return 'Difference';
  return metric.generators?.length === 1 ? `Generator ${metric.generators[0]}` : 'Metrics';
}

export function settingsView(root, store) {
  const el = select(root).classed('settings', true);
  el.append('h2').text('Map');
  const dsLabel = el.append('label').text('Dataset');
  const dsSelect = dsLabel.append('select').attr('name', 'dataset')
    .on('change', (event) => store.set({ dataset: event.target.value, metric: null, colourBy: null }));
  const dsDesc = el.append('p').attr('class', 'desc dataset-desc');
  const mLabel = el.append('label').text('Metric');
  const mSelect = mLabel.append('select').attr('name', 'metric')
    .on('change', (event) => store.set({ metric: event.target.value }));
  const mDesc = el.append('p').attr('class', 'desc metric-desc');
  const bLabel = el.append('label').attr('class', 'side-label').text('Side by side with');
  const bSelect = bLabel.append('select').attr('name', 'metricB')
    .on('change', (event) => store.set({ metricB: event.target.value || null }));
  const bNote = el.append('p').attr('class', 'desc').text('Both maps show the same items: a lasso or hover on one marks them on the other.');
  const cLabel = el.append('label').attr('class', 'colour-label').text('Colour points by');
  const cSelect = cLabel.append('select').attr('name', 'colourBy')
    .on('change', (event) => store.set({ colourBy: event.target.value || null }));
  const facts = el.append('dl').attr('class', 'facts');

  function render(s) {
    const datasets = s.datasets;
    dsSelect.selectAll('option').data(datasets, (d) => d.name).join('option')
      .attr('value', (d) => d.name).text((d) => d.name);
    dsSelect.property('value', s.dataset ?? '');
    const ds = datasets.find((d) => d.name === s.dataset);
    dsDesc.text(ds ? `${ds.description || ''} ${fmtCount(ds.n_items)} items · generators ${ds.generators.join(', ')}` : '');
    const metrics = ds ? ds.metrics : [];
    const groups = [...new Set(metrics.map(groupOf))];
    mSelect.selectAll('optgroup').data(groups, (g) => g).join('optgroup').attr('label', (g) => g)
      .each(function fill(g) {
        select(this).selectAll('option').data(metrics.filter((m) => groupOf(m) === g), (m) => m.name).join('option')
          .attr('value', (m) => m.name).property('disabled', (m) => !m.built).text(metricLabel);
      });
    mSelect.property('value', s.metric ?? '');
    const others = metrics.filter((m) => m.built && m.name !== s.metric);
    bLabel.style('display', others.length ? null : 'none');
    bNote.style('display', s.metricB ? null : 'none');
    bSelect.selectAll('option').data([null, ...others], (m) => (m ? m.name : '')).join('option')
      .attr('value', (m) => (m ? m.name : '')).text((m) => (m ? metricLabel(m) : 'none (one map)'));
    bSelect.property('value', s.metricB ?? '');
    const columns = ds?.colour_columns ?? [];
    cLabel.style('display', columns.length ? null : 'none');
    cSelect.selectAll('option').data([null, ...columns], (c) => c ?? '').join('option')
      .attr('value', (c) => c ?? '').text((c) => c ?? 'the map\'s metric (contours too)');
    cSelect.property('value', s.colourBy ?? '');
    const metric = metrics.find((m) => m.name === s.metric);
    mDesc.text(metric ? `${metric.description || ''}${metric.unit ? ` Unit: ${metric.unit}.` : ''}` : '');

    const info = s.mapInfo;
    const rows = [];
    if (info) {
      const level = info.levels?.find((l) => l.z === s.z) ?? info.levels?.[info.levels.length - 1];
      rows.push(['items', fmtCount(info.n_items)]);
      rows.push(['kernel α / β', `${fmtValue(info.kernel?.alpha)} / ${fmtValue(info.kernel?.beta)}`]);
      const lam = info.training?.lam;
      if (lam != null) {
        const tried = info.training.lams_tried ?? [];
        rows.push(['λ (metric weight)', tried.length > 1 ? `${lam} · chosen of ${tried.join(', ')}` : `${lam} · given`]);
      }
      rows.push(['zoom level z', `${s.z} of ${info.max_level}`]);
      if (level) {
        const own = level.z === s.z ? '' : ` (level ${level.z}, deepest refined)`;
        rows.push([`α at z = ${s.z}`, `${fmtValue(level.alpha)}${own}${level.accepted === false ? ' · refinement rejected' : ''}`]);
        rows.push(['validation MSE', fmtValue(level.mse_val)]);
      }
      const [lo, hi] = info.colour_domain;
      const m = Math.max(Math.abs(lo), Math.abs(hi));
      rows.push(['colour domain', info.diverging ? `±${fmtValue(m)}, centred at 0` : `${fmtValue(lo)} … ${fmtValue(hi)}`]);
      if (info.mask?.enabled) rows.push(['masked beyond', `${fmtValue(info.mask.radius)} from any item`]);
    } else if (s.metric) {
      rows.push(['map', s.loading.map ? 'loading…' : 'not available']);
    }
    const items = facts.selectAll('div').data(rows, (d) => d[0]).join((enter) => {
      const div = enter.append('div');
      div.append('dt'); div.append('dd');
      return div;
    });
    items.attr('data-fact', (d) => d[0]);
    items.select('dt').text((d) => d[0]);
    items.select('dd').text((d) => d[1]);
  }

  store.subscribe(render, ['datasets', 'dataset', 'metric', 'metricB', 'mapInfo', 'z', 'loading', 'colourBy']);
  render(store.get());
}
