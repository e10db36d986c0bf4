// Wires the store, the API and the views; loads datasets and the chosen map.
import './style.css';
import * as api from './api.js';
import { createStore, initialState, mapStore } from './state.js';
import { settingsView } from './views/settings.js';
import { overviewView } from './views/overview.js';
import { keywordsView } from './views/keywords.js';
import { distributionsView } from './views/distributions.js';
import { instanceView } from './views/instance.js';
import { compareView } from './views/compare.js';
import { searchView } from './views/search.js';
import { placeForm } from './views/placeForm.js';
import { placedItemView } from './views/placedItem.js';
import { embedBridge } from './lib/embedBridge.js';
import { applyTheme, chooseTheme, otherTheme, storedTheme } from './lib/theme.js';
import { decodeShare, encodeShare } from './lib/shareState.js';
import { filterMatches } from './lib/filter.js';
import { chooseRenderer, probeWebGL, requestedRenderer } from './lib/rendererChoice.js';

performance.mark('dkmap:start');
const store = createStore(initialState());
// What the link the page was opened with asks for; the view, lasso and bars wait for the map.
const wanted = decodeShare(window.location.hash);
let pending = { centre: wanted.centre ?? null, lassoPolygon: wanted.lassoPolygon ?? null, lassoSlot: wanted.lassoSlot ?? 'a', filter: wanted.filter };
const maps = { a: mapStore(store, 'a'), b: mapStore(store, 'b') };

function setLoading(key, message) {
  const loading = { ...store.get().loading };
  if (message) loading[key] = message; else delete loading[key];
  store.set({ loading });
}

// The error banner: the server's message, plainly, until dismissed.
const banner = document.getElementById('error-banner');
banner.querySelector('button').addEventListener('click', () => store.set({ error: null }));
store.subscribe((s) => {
  banner.hidden = !s.error;
  banner.querySelector('.msg').textContent = s.error ?? '';
}, ['error']);

const busy = document.getElementById('busy');
store.subscribe((s) => {
  const messages = Object.values(s.loading);
  busy.hidden = messages.length === 0;
  busy.textContent = messages.join(' · ');
}, ['loading']);

// The theme: the toggle in the header; style.css swaps its variables on the root's data-theme.
const themeBtn = document.getElementById('theme-toggle');
themeBtn.addEventListener('click', () => store.set({ theme: otherTheme(store.get().theme) }));
function showTheme(s) {
  applyTheme(document.documentElement, window.localStorage, s.theme);
  themeBtn.textContent = s.theme === 'dark' ? 'Light theme' : 'Dark theme';
}
store.subscribe(showTheme, ['theme']);
store.set({ theme: chooseTheme({ wanted: wanted.theme, stored: storedTheme(window.localStorage), prefersDark: window.matchMedia?.('(prefers-color-scheme: dark)').matches }) });
showTheme(store.get());

settingsView(document.getElementById('settings'), store);
compareView(document.getElementById('compare'), store, api);
// The points renderer, once per page: `?renderer=webgl|canvas` forces one (tests, benchmarks).
let renderer;
try {
  renderer = chooseRenderer(requestedRenderer(window.location.search), probeWebGL());
} catch (err) {
  renderer = { name: 'canvas', reason: err.message };
}
overviewView(document.getElementById('overview'), maps.a, api, { renderer });
overviewView(document.getElementById('overview-b'), maps.b, api, { renderer });
keywordsView(document.getElementById('keywords'), store, api);
distributionsView(document.getElementById('distributions'), store, api);
instanceView(document.getElementById('instance'), store, api);
searchView(document.getElementById('search'), store, api);
placeForm(document.getElementById('place'), store, api);
placedItemView(document.getElementById('placed'), store, api);

function firstBuilt(dataset) {
  return dataset?.metrics.find((m) => m.built)?.name ?? null;
}

/**
 * Loads the info of one map (a sub-store) for `load(dataset, metric, {clear, loaded, then})`:
 * `clear` is set with `mapInfo: null` first, `loaded` with the info, and `then()` runs once it is
 * set; a newer load of the same map wins.
 */
function mapLoader(map, loadingKey, describe) {
  let token = 0;
  return async (dataset, metric, { clear = {}, loaded = {}, then = () => {} } = {}) => {
    const my = ++token;
    map.set({ mapInfo: null, ...clear });
    if (!dataset || !metric) return;
    setLoading(loadingKey, `Loading map ${describe(dataset, metric)}…`);
    try {
      const info = await api.getMap(dataset, metric);
      if (my === token) { map.set({ mapInfo: info, ...loaded }); then(); }
    } catch (err) {
      if (my === token) store.set({ error: `Map ${dataset} / ${metric}: ${err.message}` });
    } finally {
      if (my === token) setLoading(loadingKey, null);
    }
  };
}

const loadMainMap = mapLoader(maps.a, 'map', (dataset, metric) => `${dataset} / ${metric}`);
function loadMap(s) {
  loadMainMap(s.dataset, s.metric, {
    clear: { item: null, focusMarker: null, highlight: null, lassoPolygon: null, filter: [] },
    loaded: { error: null },
    then: () => { performance.mark('dkmap:map-info'); restorePending(); },
  });
}

/** Once the first map is in: the shared link's view and lasso (its bars wait for the selection). */
function restorePending() {
  if (!pending) return;
  const { centre, lassoPolygon, lassoSlot } = pending;
  if (centre) store.set({ viewWanted: centre });
  if (lassoPolygon && (lassoSlot === 'a' || store.get().metricB)) store.set({ lassoPolygon, lassoSlot });
  if (!lassoPolygon || !pending.filter.length) pending = null;
}
store.subscribe((s) => {
  if (!pending || !s.selection || s.selectionLoading) return;
  // Only the bars this selection has: a link made on other data keeps the rest of its view.
  const bars = pending.filter.filter((bar) => { try { filterMatches(s.selection, [bar]); return true; } catch { return false; } });
  pending = null;
  if (bars.length) store.set({ filter: bars });
}, ['selection', 'selectionLoading']);

// The side-by-side map: a second metric of the same dataset, loaded like the first.
const loadSideMap = mapLoader(maps.b, 'mapB', (_, metric) => metric);
store.subscribe((s, prev) => {
  if (s.dataset !== prev.dataset && s.metricB) { store.set({ metricB: null }); return; }
  document.querySelector('.app').classList.toggle('side-by-side', Boolean(s.metricB));
  loadSideMap(s.dataset, s.metricB);
}, ['metricB', 'dataset']);

store.subscribe((s, prev) => {
  if (s.dataset !== prev.dataset && !s.metric) {
    const first = firstBuilt(s.datasets.find((d) => d.name === s.dataset));
    if (first) { store.set({ metric: first }); return; }
  }
  if (s.dataset !== prev.dataset || s.metric !== prev.metric) {
    writeHash(s);
    loadMap(s);
  }
}, ['dataset', 'metric']);

// The URL hash always holds the shareable state (lib/shareState.js), written a moment after it changes.
let hashTimer = null;
function writeHashNow() {
  clearTimeout(hashTimer);
  hashTimer = null;
  window.history.replaceState(null, '', `#${encodeShare(store.get())}`);
}
function writeHash() {
  if (hashTimer === null) hashTimer = setTimeout(writeHashNow, 150);
}
store.subscribe(writeHash, ['mode', 'sampling', 'metricB', 'centre', 'lassoPolygon', 'lassoSlot', 'filter', 'colourBy', 'rank', 'theme', 'columnFilters']);

// Copy link: the clipboard when the browser allows it, else the link shown selected in a text field.
const copyBtn = document.getElementById('copy-link');
const shareField = document.getElementById('share-url');
copyBtn.addEventListener('click', async () => {
  writeHashNow();
  const url = window.location.href;
  try {
    await navigator.clipboard.writeText(url);
    shareField.hidden = true;
    copyBtn.textContent = 'Link copied';
    setTimeout(() => { copyBtn.textContent = 'Copy link'; }, 1500);
  } catch {
    shareField.hidden = false;
    shareField.value = url;
    shareField.focus();
    shareField.select();
  }
});

// A link opened in this tab (pasted into the address bar, back or forward) changes only the hash:
// load it as a fresh page would. The app's own writes use replaceState, which fires no hashchange.
window.addEventListener('hashchange', () => window.location.reload());

async function start() {
  setLoading('datasets', 'Loading datasets…');
  try {
    const { datasets } = await api.listDatasets();
    const ds = datasets.find((d) => d.name === wanted.dataset) ?? datasets[0] ?? null;
    if (ds?.name !== wanted.dataset) pending = null; // the link's view and lasso belong to another dataset
    const built = (name) => ds?.metrics.some((m) => m.name === name && m.built);
    const metric = built(wanted.metric) ? wanted.metric : firstBuilt(ds);
    const defaults = store.get();
    store.set({
      datasets,
      mode: wanted.mode ?? defaults.mode,
      sampling: wanted.sampling ?? defaults.sampling,
      rank: wanted.rank ?? defaults.rank,
      colourBy: ds?.colour_columns?.includes(wanted.colourBy) ? wanted.colourBy : null,
      columnFilters: ds?.name === wanted.dataset ? wanted.columnFilters : [],
    });
    store.set({ dataset: ds?.name ?? null, metric });
    if (built(wanted.metricB) && wanted.metricB !== metric) store.set({ metricB: wanted.metricB });
    if (!ds) store.set({ error: 'The server has no datasets. Build one with `dkmap demo` or `dkmap build`.' });
  } catch (err) {
    store.set({ error: `Could not list datasets: ${err.message}` });
  } finally {
    setLoading('datasets', null);
  }
}

// Read-only test hook: the current state (frozen) and the store's subscribe.
Object.defineProperty(window, '__dkmap', {
  value: Object.freeze({ state: () => store.get(), subscribe: (fn, keys) => store.subscribe(fn, keys) }),
});

embedBridge(store, window);
start();
