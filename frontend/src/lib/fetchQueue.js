// Keyed fetches for tile caches: at most `maxInFlight` at once, in the order last asked for; each
// key fetched once until it fails; a reset cancels everything (a new source).

/**
 * A queue over `load(job, signal) → Promise`, where a job is an object with a string `key`.
 * `want(jobs)` replaces what waits and starts what it can; `skip(fn(key))` names keys not to fetch
 * (already cached); `onLoad(fn(key, value, job))`, `onError(fn(err))` and `onSettle(fn())` (a fetch
 * ended, either way) follow the fetches of the current source. Aborted fetches are not errors.
 */
export function fetchQueue(load) {
  if (typeof load !== 'function') throw new TypeError('fetchQueue(load): load must be a function');
  let maxInFlight = Infinity;
  let skip = () => false;
  let loaded = () => {};
  let errored = () => {};
  let settled = () => {};
  let inFlight = new Map(); // key → AbortController
  const failed = new Map(); // key → message
  let waiting = [];
  let generation = 0;
  const q = {};

  q.maxInFlight = (n) => {
    if (!(n === Infinity || (Number.isInteger(n) && n >= 1))) throw new Error(`invalid maxInFlight: ${n}`);
    maxInFlight = n;
    return q;
  };
  q.skip = (fn) => { skip = fn; return q; };
  q.onLoad = (fn) => { loaded = fn; return q; };
  q.onError = (fn) => { errored = fn; return q; };
  q.onSettle = (fn) => { settled = fn; return q; };

  /** Cancel every fetch and forget what failed and what waits. */
  q.reset = () => {
    generation += 1;
    for (const ctrl of inFlight.values()) ctrl.abort();
    inFlight = new Map();
    failed.clear();
    waiting = [];
    return q;
  };

  function pump() {
    while (inFlight.size < maxInFlight && waiting.length > 0) {
      const job = waiting.shift();
      const { key } = job;
      if (skip(key) || inFlight.has(key) || failed.has(key)) continue;
      const ctrl = new AbortController();
      const gen = generation;
      inFlight.set(key, ctrl);
      load(job, ctrl.signal)
        .then((value) => { if (gen === generation) loaded(key, value, job); })
        .catch((err) => {
          if (gen !== generation || err.name === 'AbortError') return;
          failed.set(key, err.message);
          errored(err);
        })
        .finally(() => {
          if (gen === generation) { inFlight.delete(key); pump(); settled(); }
        });
    }
  }

  /** Wait for `jobs` (in this order) instead of what waited before, and start what fits. */
  q.want = (jobs) => { waiting = [...jobs]; pump(); return q; };
  /** Cancel the fetches whose key `keep(key)` rejects. */
  q.cancelUnless = (keep) => {
    for (const [key, ctrl] of inFlight) if (!keep(key)) { ctrl.abort(); inFlight.delete(key); }
    return q;
  };
  q.loading = (key) => inFlight.has(key);
  q.failed = (key) => failed.has(key);
  /** Mark `key` failed (it will not be fetched again until a reset). */
  q.fail = (key, message) => { failed.set(key, message); return q; };
  q.counts = () => ({ inFlight: inFlight.size, waiting: waiting.length, failed: failed.size });
  return q;
}
