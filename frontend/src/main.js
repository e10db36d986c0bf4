// Wires the store, the API and the views; loads datasets and the chosen map.
import './style.css';
import * as api from './api.js';
import { createStore, initialState } from './state.js';
import { settingsView } from './views/settings.js';
import { overviewView } from './views/overview.js';
import { keywordsView } from './views/keywords.js';
import { instanceView } from './views/instance.js';
import { compareView } from './views/compare.js';

performance.mark('dkmap:start');
const store = createStore(initialState());

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

settingsView(document.getElementById('settings'), store);
compareView(document.getElementById('compare'), store, api);
overviewView(document.getElementById('overview'), store, api, { slot: 'a' });
overviewView(document.getElementById('overview-b'), store, api, { slot: 'b' });
keywordsView(document.getElementById('keywords'), store, api);
instanceView(document.getElementById('instance'), store, api);

function firstBuilt(dataset) {
  return dataset?.metrics.find((m) => m.built)?.name ?? null;
}

let mapToken = 0;
async function loadMap(s) {
  const my = ++mapToken;
  store.set({ mapInfo: null, item: null, focusMarker: null, highlight: null, lassoPolygon: null, filter: [] });
  if (!s.dataset || !s.metric) return;
  setLoading('map', `Loading map ${s.dataset} / ${s.metric}…`);
  try {
    const info = await api.getMap(s.dataset, s.metric);
    if (my === mapToken) {
      store.set({ mapInfo: info, error: null });
      performance.mark('dkmap:map-info');
    }
  } catch (err) {
    if (my === mapToken) store.set({ error: `Map ${s.dataset} / ${s.metric}: ${err.message}` });
  } finally {
    if (my === mapToken) setLoading('map', null);
  }
}

// The side-by-side map: a second metric of the same dataset, loaded like the first.
let mapBToken = 0;
store.subscribe(async (s, prev) => {
  if (s.dataset !== prev.dataset && s.metricB) { store.set({ metricB: null }); return; }
  const my = ++mapBToken;
  document.querySelector('.app').classList.toggle('side-by-side', Boolean(s.metricB));
  store.set({ mapInfoB: null });
  if (!s.metricB) return;
  setLoading('mapB', `Loading map ${s.metricB}…`);
  try {
    const info = await api.getMap(s.dataset, s.metricB);
    if (my === mapBToken) store.set({ mapInfoB: info });
  } catch (err) {
    if (my === mapBToken) store.set({ error: `Map ${s.dataset} / ${s.metricB}: ${err.message}` });
  } finally {
    if (my === mapBToken) setLoading('mapB', null);
  }
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

start();
