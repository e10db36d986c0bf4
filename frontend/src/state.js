// One store for the whole app: views read snapshots and subscribe to the keys they draw. Each map
// reads and writes it through its own sub-store (`mapStore`), which names that map's keys plainly.

const isPlain = (patch) => patch !== null && typeof patch === 'object' && !Array.isArray(patch);

/**
 * Create a store holding a plain state object.
 * `set(patch)` merges the patch and notifies subscribers whose keys changed (by identity).
 * @param {object} initial
 */
export function createStore(initial = {}) {
  let state = Object.freeze({ ...initial });
  const subscribers = new Set();

  function get() {
    return state;
  }

  const queue = [];
  let notifying = false;

  function set(patch) {
    if (!isPlain(patch)) {
      throw new TypeError('store.set(patch): patch must be a plain object');
    }
    const changed = Object.keys(patch).filter((key) => !Object.is(state[key], patch[key]));
    if (changed.length === 0) return [];
    const previous = state;
    state = Object.freeze({ ...state, ...patch });
    // A set made by a subscriber is delivered after the current one, so everyone sees changes in order.
    queue.push([state, previous, changed]);
    if (!notifying) {
      notifying = true;
      try {
        while (queue.length > 0) {
          const [next, prev, keys] = queue.shift();
          for (const sub of [...subscribers]) {
            if (!subscribers.has(sub)) continue;
            if (sub.keys === null || keys.some((key) => sub.keys.has(key))) sub.fn(next, prev, keys);
          }
        }
      } finally {
        notifying = false;
        queue.length = 0;
      }
    }
    return changed;
  }

  /**
   * Call `fn(state, previous, changedKeys)` after each change of one of `keys` (all keys if omitted).
   * Returns the unsubscribe function.
   */
  function subscribe(fn, keys = null) {
    if (typeof fn !== 'function') throw new TypeError('store.subscribe(fn): fn must be a function');
    const sub = { fn, keys: keys === null ? null : new Set(keys) };
    subscribers.add(sub);
    return () => subscribers.delete(sub);
  }

  return { get, set, subscribe };
}

/** Where each map keeps its own state in the app state: the main map ('a') under the plain names. */
const MAP_KEYS = {
  a: { metric: 'metric', mapInfo: 'mapInfo', drawn: 'drawn' },
  b: { metric: 'metricB', mapInfo: 'mapInfoB', drawn: 'drawnB' },
};
const ALL_MAP_KEYS = new Set(Object.values(MAP_KEYS).flatMap((keys) => Object.values(keys)));

/** Which maps there are: 'a', the main map, and 'b', the one shown side by side. */
export const SLOTS = Object.freeze(Object.keys(MAP_KEYS));

/**
 * The store as one map sees it (a sub-store): `get()` is the app state with this map's own keys
 * (`metric`, `mapInfo`, `drawn`) under those plain names and no other map's; `set` and `subscribe`
 * take the plain names too. Every other key is the app's, shared by all maps.
 */
export function mapStore(store, slot) {
  const own = mapKeys(slot);
  const mine = Object.fromEntries(Object.entries(own).map(([name, key]) => [key, name]));
  const toApp = (name) => own[name] ?? name;
  const views = new WeakMap(); // app state → this map's view of it, so views keep their identity

  function view(state) {
    let v = views.get(state);
    if (!v) {
      v = {};
      for (const [key, value] of Object.entries(state)) if (!ALL_MAP_KEYS.has(key)) v[key] = value;
      for (const [name, key] of Object.entries(own)) v[name] = state[key];
      views.set(state, Object.freeze(v));
    }
    return v;
  }

  return {
    slot,
    get: () => view(store.get()),
    set: (patch) => store.set(isPlain(patch) ? Object.fromEntries(Object.entries(patch).map(([name, v]) => [toApp(name), v])) : patch)
      .map((key) => mine[key] ?? key),
    subscribe: (fn, keys = null) => store.subscribe(
      (next, prev, changed) => fn(view(next), view(prev), changed.map((key) => mine[key] ?? key)),
      keys === null ? null : keys.map(toApp),
    ),
  };
}

/** The metric shown on map `slot` in app state `s`. */
export function metricOf(s, slot) {
  return s[mapKeys(slot).metric];
}

function mapKeys(slot) {
  const keys = MAP_KEYS[slot];
  if (!keys) throw new Error(`invalid map slot ${JSON.stringify(slot)}; valid: ${SLOTS.join(', ')}`);
  return keys;
}

/** The app's initial state: every key any view reads is declared here. */
export function initialState() {
  return {
    datasets: [],          // GET /api/datasets
    dataset: null,         // dataset name
    metric: null,          // metric name
    metricB: null,         // second map shown side by side (null: one map)
    mapInfoB: null,
    mapInfo: null,         // GET /api/maps/<d>/<m>
    mode: 'overlay',       // scatter | contour | overlay
    sampling: 'bluenoise', // bluenoise | random (overlay)
    colourBy: null,        // column the points are coloured by (a dataset's colour_columns); null: the metric
    theme: 'light',        // light | dark (lib/theme.js; remembered in localStorage)
    images: false,         // thumbnails on the map where they fit (toolbar Images, key I)
    view: { k: 1, x: 0, y: 0 }, // d3-zoom transform over base pixels
    centre: null,          // {x, y, k}: the main map's point in the middle of its view and zoom scale (the link)
    viewWanted: null,      // {x, y, k}: a view to show (a shared link opened)
    z: 0,                  // tile level of the current zoom
    lassoActive: false,
    lassoPolygon: null,    // [[x, y], ...] in map coordinates once closed
    lassoSlot: 'a',        // which map the lasso was drawn on ('a' main, 'b' side by side)
    hover: null,           // {id, slot}: item under the cursor, ringed on the other map too
    selection: null,       // selection endpoint response
    selectionLoading: false,
    selectionSource: null, // 'lasso' | 'cluster'
    filter: [],            // [{keyword, bin}] bars chosen in the keyword view
    rank: 'lift',          // keyword ranking of the selection: lift | frequency
    columnFilters: [],     // [{column, range | in (+ other) | contains}], ANDed (API filters; views/distributions.js)
    filteredCount: null,   // {n, of, scope}: items passing the column filters, from the server, or null
    highlight: null,       // {label, rows, ids?} items highlighted on the map (SPEC cluster, search)
    item: null,            // selected item id
    focus: null,           // {x, y, id}: pan target
    focusMarker: null,     // {x, y, id}: the selected item's marker on the map
    placed: [],            // [{id, label, prompt, image, results: {metric: place answer}}] (lib/placed.js)
    placedActive: null,    // id of the placed point shown in the placed view
    loading: {},           // {key: message} for anything in flight
    error: null,           // last error message shown to the user
    drawn: {},             // what the overview drew (test hook)
    drawnB: {},            // the same for the side-by-side map
  };
}
