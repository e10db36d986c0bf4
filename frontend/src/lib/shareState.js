// The shareable part of the app state as the URL hash, and back. Decoding validates every field on
// its own: one unknown or garbled value is dropped (the app uses its default), the rest still apply.

export const MODES = Object.freeze(['scatter', 'contour', 'overlay']);
export const SAMPLINGS = Object.freeze(['bluenoise', 'random']);
export const RANKS = Object.freeze(['lift', 'frequency']);
export const THEMES = Object.freeze(['light', 'dark']);
export const SLOTS = Object.freeze(['a', 'b']);
const MAX_VERTICES = 1000;
const MAX_FILTERS = 32;
const MAX_K = 2 ** 14;

const round = (v, digits) => Number(v.toFixed(digits));
const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

/**
 * The hash (without '#') for the shareable fields of state `s`: dataset, metric, metricB, mode,
 * sampling, centre ({x, y, k}: the map point in the middle and the zoom scale), lasso polygon and
 * its map, keyword bars, colourBy, rank, theme and the column filters (`columnFilters`).
 */
export function encodeShare(s) {
  const p = new URLSearchParams();
  if (s.dataset) p.set('dataset', s.dataset);
  if (s.metric) p.set('metric', s.metric);
  if (s.metricB) p.set('metricB', s.metricB);
  if (s.mode) p.set('mode', s.mode);
  if (s.sampling && s.sampling !== 'bluenoise') p.set('sampling', s.sampling);
  const c = s.centre;
  if (c && isNum(c.x) && isNum(c.y) && isNum(c.k)) p.set('view', [round(c.x, 6), round(c.y, 6), round(c.k, 4)].join(','));
  if (s.lassoPolygon?.length >= 3) {
    p.set('lasso', s.lassoPolygon.map(([x, y]) => `${round(x, 6)},${round(y, 6)}`).join(';'));
    if (s.lassoSlot && s.lassoSlot !== 'a') p.set('lassoSlot', s.lassoSlot);
  }
  if (s.filter?.length) p.set('bars', JSON.stringify(s.filter.map((f) => [f.keyword, f.bin])));
  if (s.colourBy) p.set('colour', s.colourBy);
  if (s.rank && s.rank !== 'lift') p.set('rank', s.rank);
  if (s.theme) p.set('theme', s.theme);
  if (s.columnFilters?.length) p.set('filters', JSON.stringify(s.columnFilters));
  return p.toString();
}

function parseJson(text) {
  try { return JSON.parse(text); } catch { return undefined; }
}

function decodeView(text) {
  const parts = (text ?? '').split(',').map(Number);
  if (parts.length !== 3 || !parts.every(Number.isFinite)) return null;
  const [x, y, k] = parts;
  if (x < -1 || x > 2 || y < -1 || y > 2 || k < 0.5 || k > MAX_K) return null;
  return { x, y, k };
}

function decodePolygon(text) {
  if (!text) return null;
  const pts = text.split(';').map((pair) => pair.split(',').map(Number));
  if (pts.length < 3 || pts.length > MAX_VERTICES) return null;
  if (!pts.every((pt) => pt.length === 2 && pt.every(Number.isFinite))) return null;
  return pts;
}

function decodeBars(text) {
  const bars = parseJson(text ?? '');
  if (!Array.isArray(bars)) return [];
  return bars.filter((b) => Array.isArray(b) && b.length === 2 && typeof b[0] === 'string' && Number.isInteger(b[1]) && b[1] >= 0)
    .map(([keyword, bin]) => ({ keyword, bin }));
}

/** One column filter of the API's form, or null when it is not one (lib/shareState keeps only valid ones). */
export function validFilter(f) {
  if (!f || typeof f !== 'object' || Array.isArray(f) || typeof f.column !== 'string' || !f.column) return null;
  const kinds = ['range', 'in', 'contains'].filter((k) => k in f);
  if (kinds.length !== 1) return null;
  if (kinds[0] === 'range') {
    const r = f.range;
    if (!Array.isArray(r) || r.length !== 2 || !r.every(isNum) || r[0] > r[1]) return null;
    return { column: f.column, range: [r[0], r[1]] };
  }
  if (kinds[0] === 'in') {
    if (!Array.isArray(f.in) || !f.in.every((v) => v === null || typeof v === 'string' || isNum(v) || typeof v === 'boolean')) return null;
    if ('other' in f && typeof f.other !== 'boolean') return null;
    return { column: f.column, in: [...f.in], other: Boolean(f.other) };
  }
  if (typeof f.contains !== 'string' || !f.contains) return null;
  return { column: f.column, contains: f.contains };
}

/**
 * The fields a hash names, each validated on its own; a field absent or invalid is left out, so
 * the caller keeps its default. `filter` (keyword bars) and `columnFilters` are always lists.
 */
export function decodeShare(hash) {
  const p = new URLSearchParams(String(hash ?? '').replace(/^#/, ''));
  const out = { filter: decodeBars(p.get('bars')), columnFilters: [] };
  for (const key of ['dataset', 'metric', 'metricB', 'colour']) {
    const v = p.get(key);
    if (v) out[key === 'colour' ? 'colourBy' : key] = v;
  }
  const pick = (key, allowed) => { const v = p.get(key); if (allowed.includes(v)) out[key] = v; };
  pick('mode', MODES);
  pick('sampling', SAMPLINGS);
  pick('rank', RANKS);
  pick('theme', THEMES);
  pick('lassoSlot', SLOTS);
  const centre = decodeView(p.get('view'));
  if (centre) out.centre = centre;
  const polygon = decodePolygon(p.get('lasso'));
  if (polygon) out.lassoPolygon = polygon;
  else delete out.lassoSlot;
  const filters = parseJson(p.get('filters') ?? '');
  if (Array.isArray(filters)) out.columnFilters = filters.slice(0, MAX_FILTERS).map(validFilter).filter(Boolean);
  return out;
}
