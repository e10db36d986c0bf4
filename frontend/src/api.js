// Every request the app makes, in one place. Server errors become ApiError with the server's message.
// Point columns come as Arrow IPC streams (lib/arrowStream.js), decoded to the JSON answer's shape.
import { readArrowStream } from './lib/arrowStream.js';

export const ARROW_STREAM = 'application/vnd.apache.arrow.stream';

export class ApiError extends Error {
  constructor(status, message, url) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.url = url;
  }
}

const enc = encodeURIComponent;

async function request(url, init = {}) {
  let response;
  try {
    response = await fetch(url, init);
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(0, `Cannot reach the server (${err.message})`, url);
  }
  const type = response.headers.get('content-type') || '';
  // A fetch aborted while its body is read rejects here: that is an abort, not a bad answer.
  const body = type.includes('json') ? await response.json().catch((err) => { if (err?.name === 'AbortError') throw err; return null; }) : null;
  if (!response.ok) {
    const message = body && body.error && body.error.message
      ? body.error.message
      : `${response.status} ${response.statusText || 'error'}`;
    throw new ApiError(response.status, message, url);
  }
  if (body === null) throw new ApiError(response.status, 'The server sent a response that is not JSON', url);
  return body;
}

/** A point answer as an Arrow stream: the JSON answer's fields, with `points` the decoded columns. */
async function requestPoints(url, init = {}) {
  let response;
  const headers = { ...(init.headers || {}), accept: ARROW_STREAM };
  try {
    response = await fetch(url, { ...init, headers });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(0, `Cannot reach the server (${err.message})`, url);
  }
  const type = response.headers.get('content-type') || '';
  if (!response.ok || !type.startsWith(ARROW_STREAM)) {
    const body = type.includes('json') ? await response.json().catch(() => null) : null;
    if (response.ok && body) return body; // a server that answers JSON only
    const message = body?.error?.message ?? `${response.status} ${response.statusText || 'error'}`;
    throw new ApiError(response.status, message, url);
  }
  let decoded;
  try {
    const bytes = await response.arrayBuffer();
    const started = performance.now();
    decoded = readArrowStream(bytes);
    // scripts/bench_frontend.py reads the decode cost of each answer.
    performance.measure('dkmap:arrow-decode', { start: started, detail: { bytes: bytes.byteLength, url } });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(response.status, `The server sent an Arrow stream that cannot be read (${err.message})`, url);
  }
  return { ...JSON.parse(decoded.metadata.dkmap ?? '{}'), points: decoded.columns };
}

export function listDatasets(init) {
  return request('api/datasets', init);
}

export function getMap(dataset, metric, init) {
  return request(`api/maps/${enc(dataset)}/${enc(metric)}`, init);
}

export function getContourTile(dataset, metric, z, x, y, init) {
  return request(`api/maps/${enc(dataset)}/${enc(metric)}/contour/${z}/${x}/${y}`, init);
}

/**
 * Points in bbox [x0, y0, x1, y1]; sampling bluenoise | random | all; `colour`: a column to colour
 * by; `filters` (the column filters): each point then says whether it `passes`.
 */
export function getPoints(dataset, metric, { z, bbox, sampling, limit, colour, filters }, init) {
  const params = new URLSearchParams({ z: String(z), bbox: bbox.join(','), sampling });
  if (limit !== undefined) params.set('limit', String(limit));
  if (colour) params.set('colour', colour);
  if (filters?.length) params.set('filters', JSON.stringify(filters));
  return requestPoints(`api/maps/${enc(dataset)}/${enc(metric)}/points?${params}`, init);
}

/**
 * Items in a lasso polygon (`{polygon}`) or listed by id (`{ids}`): count and statistics of all of
 * them, positions and keyword bars of a sample (all when small).
 */
export function postSelection(dataset, metric, body, init) {
  return postJson(`api/maps/${enc(dataset)}/${enc(metric)}/selection`, body, init);
}

/** Listed items (`rows`, at most 20,000 per request) with their positions on this map; `colour` as getPoints. */
export function postRowPoints(dataset, metric, rows, { colour } = {}, init) {
  const q = colour ? `?colour=${enc(colour)}` : '';
  return requestPoints(`api/maps/${enc(dataset)}/${enc(metric)}/points/rows${q}`, {
    ...init, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ rows }) });
}

/** The index of thumbnail sprite sheet (z, x, y) of `model`'s images (its `image` is the sheet's URL). */
export function getSpriteSheet(dataset, metric, { z, x, y, model }, init) {
  return request(`api/maps/${enc(dataset)}/${enc(metric)}/sprites/${z}/${x}/${y}?model=${enc(model)}`, init);
}

/** One page of a selection's ids (same body as postSelection, plus `offset` and `limit`). */
export function postSelectionIds(dataset, metric, body, init) {
  return postJson(`api/maps/${enc(dataset)}/${enc(metric)}/selection/ids`, body, init);
}

/** Histograms of the columns over a scope (`bbox`, `polygon`, `ids` or none) under `filters`. */
export function postHistograms(dataset, metric, body, init) {
  return postJson(`api/maps/${enc(dataset)}/${enc(metric)}/histograms`, body, init);
}

/** A selection (body as postSelection's, plus `bars`) as a file: {blob, filename}; format csv | parquet. */
export async function exportSelection(dataset, metric, format, body, init) {
  const url = `api/maps/${enc(dataset)}/${enc(metric)}/export?format=${enc(format)}`;
  let response;
  try {
    response = await fetch(url, { ...init, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  } catch (err) {
    if (err && err.name === 'AbortError') throw err;
    throw new ApiError(0, `Cannot reach the server (${err.message})`, url);
  }
  if (!response.ok) {
    const answer = await response.json().catch(() => null);
    throw new ApiError(response.status, answer?.error?.message ?? `${response.status} ${response.statusText || 'error'}`, url);
  }
  const disposition = response.headers.get('content-disposition') || '';
  const filename = /filename="([^"]+)"/.exec(disposition)?.[1] ?? `${dataset}-${metric}-selection.${format}`;
  return { blob: await response.blob(), filename };
}

function postJson(path, body, init) {
  return request(path, { ...init, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

export function getItem(dataset, id, init) {
  return request(`api/datasets/${enc(dataset)}/items/${enc(id)}`, init);
}

export function getSimilar(dataset, id, { k = 8, model } = {}, init) {
  const params = new URLSearchParams({ k: String(k) });
  if (model) params.set('model', model);
  return request(`api/datasets/${enc(dataset)}/items/${enc(id)}/similar?${params}`, init);
}

/** URL of an item's image; the client never sends a path. */
export function imageUrl(dataset, id, model) {
  const q = model ? `?model=${enc(model)}` : '';
  return `api/datasets/${enc(dataset)}/items/${enc(id)}/image${q}`;
}

export function getSpec(dataset, { x, y, k = 10 }, init) {
  const params = new URLSearchParams({ x, y, k: String(k) });
  return request(`api/datasets/${enc(dataset)}/compare/spec?${params}`, init);
}

/** One page of the prompts matching `q` (`mode` text | semantic); `fields` limits the columns sent. */
export function search(dataset, { q, mode = 'text', limit = 20, offset = 0, minScore, fields }, init) {
  const params = new URLSearchParams({ q, mode, limit: String(limit), offset: String(offset) });
  if (minScore !== undefined && minScore !== null) params.set('min_score', String(minScore));
  if (fields) params.set('fields', fields.join(','));
  return request(`api/datasets/${enc(dataset)}/search?${params}`, init);
}

/**
 * Place a new pair on a map: `prompt` (text), `image` (a File or Blob), `features` ({space: [..]}).
 * Sent as a multipart form when there is an image, else as JSON.
 */
export function postPlace(dataset, metric, { prompt, image, features, k } = {}, init) {
  const path = `api/maps/${enc(dataset)}/${enc(metric)}/place`;
  const fields = {};
  if (prompt) fields.prompt = prompt;
  if (features) fields.features = features;
  if (k) fields.k = k;
  if (!image) return postJson(path, fields, init);
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) form.append(key, typeof value === 'string' ? value : JSON.stringify(value));
  form.append('image', image, image.name || 'image');
  return request(path, { ...init, method: 'POST', body: form });
}
