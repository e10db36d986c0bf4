// When the app runs inside the notebook widget (an iframe whose URL hash carries `embed=TOKEN`),
// it reports its state to the widget and takes highlight and view requests from it, by postMessage.
// Messages carry the token both ways; only the parent window is listened to.
import { filterMatches } from './filter.js';

const REPORTED = ['dataset', 'metric', 'mode', 'view', 'lassoPolygon', 'lassoSlot', 'filter', 'selection', 'selectionLoading'];
const MODES = ['scatter', 'contour', 'overlay'];

/** What the widget is told: the view, the main map's lasso and the sampled rows the bars keep. */
export function embedState(s) {
  let filteredRows = null;
  try {
    const matches = filterMatches(s.selection, s.filter);
    if (matches) filteredRows = [...matches.rows].sort((a, b) => a - b);
  } catch {
    filteredRows = null; // a filter left from an earlier selection: the app clears it
  }
  return {
    dataset: s.dataset, metric: s.metric, mode: s.mode, zoom: s.view,
    polygon: s.lassoSlot === 'a' ? s.lassoPolygon : null,
    filteredRows,
    count: s.selection?.count ?? null,
  };
}

/** Start the bridge on `win` when embedded; returns null when the app is not in the widget. */
export function embedBridge(store, win = window) {
  const token = new URLSearchParams(win.location.hash.slice(1)).get('embed');
  if (!token || win.parent === win) return null;
  const post = (type, payload) => win.parent.postMessage({ source: 'dkmap', token, type, ...payload }, '*');
  let last = null;
  const report = (s) => {
    if (s.selectionLoading) return; // the lasso is reported once its answer (and sample) is in
    const state = embedState(s);
    const text = JSON.stringify(state);
    if (text === last) return;
    last = text;
    post('state', { state });
  };
  store.subscribe(report, REPORTED);

  win.addEventListener('message', (event) => {
    const msg = event.data;
    if (event.source !== win.parent || !msg || msg.source !== 'dkmap-widget' || msg.token !== token) return;
    if (msg.type === 'select') {
      const rows = Array.isArray(msg.rows) ? msg.rows : [];
      store.set({ highlight: rows.length ? { label: String(msg.label ?? 'selected in Python'), rows: new Set(rows) } : null });
    } else if (msg.type === 'view' && msg.view) {
      const patch = {};
      if (MODES.includes(msg.view.mode)) patch.mode = msg.view.mode;
      if (typeof msg.view.metric === 'string') patch.metric = msg.view.metric;
      store.set(patch);
    }
  });
  post('ready', {});
  report(store.get());
  return { token };
}
