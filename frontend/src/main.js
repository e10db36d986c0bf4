// Wires the store, the API and the views; loads datasets and the chosen map.
import './style.css';
import * as api from './api.js';
import { createStore, initialState, mapStore } from './state.js';
import { settingsView } from './views/settings.js';
import { overviewView } from './views/overview.js';
import { keywordsView } from './views/keywords.js';
import { instanceView } from './views/instance.js';
import { compareView } from './views/compare.js';
import { searchView } from './views/search.js';
import { placeForm } from './views/placeForm.js';
import { placedItemView } from './views/placedItem.js';
import { embedBridge } from './lib/embedBridge.js';
import { applyTheme, chooseTheme, otherTheme, storedTheme } from './lib/theme.js';

performance.mark('dkmap:start');
const store = createStore(initialState());
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
store.set({ theme: chooseTheme({ stored: storedTheme(window.localStorage), prefersDark: window.matchMedia?.('(prefers-color-scheme: dark)').matches }) });
showTheme(store.get());

settingsView(document.getElementById('settings'), store);
compareView(document.getElementById('compare'), store, api);
overviewView(document.getElementById('overview'), maps.a, api);
overviewView(document.getElementById('overview-b'), maps.b, api);
keywordsView(document.getElementById('keywords'), store, api);
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
    then: () => performance.mark('dkmap:map-info'),
  });
}

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

function readHash() {
  const params = new URLSearchParams(window.location.hash.slice(1));
  return { dataset: params.get('dataset'), metric: params.get('metric'), mode: params.get('mode') };
}
function writeHash(s) {
  const params = new URLSearchParams();
  if (s.dataset) params.set('dataset', s.dataset);
  if (s.metric) params.set('metric', s.metric);
  params.set('mode', s.mode);
  window.history.replaceState(null, '', `#${params}`);
}
store.subscribe(writeHash, ['mode']);

async function start() {
  setLoading('datasets', 'Loading datasets…');
  try {
    const { datasets } = await api.listDatasets();
    const wanted = readHash();
    const ds = datasets.find((d) => d.name === wanted.dataset) ?? datasets[0] ?? null;
    const metric = ds?.metrics.find((m) => m.name === wanted.metric && m.built)?.name ?? firstBuilt(ds);
    const mode = ['scatter', 'contour', 'overlay'].includes(wanted.mode) ? wanted.mode : store.get().mode;
    store.set({ datasets, mode });
    store.set({ dataset: ds?.name ?? null, metric });
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
