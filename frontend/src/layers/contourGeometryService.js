// Contour geometry off the main thread: one worker for every contour layer of the page, or inline
// when the browser has no module worker.
import { tileGeometry } from './contourGeometry.js';

let shared = null;

/** The page's geometry service: compute(parsed, scale) → Promise of {bands, mask}. */
export function geometryService() {
  if (!shared) shared = makeGeometryService();
  return shared;
}

function makeGeometryService() {
  let worker = null;
  try {
    worker = new Worker(new URL('./contourWorker.js', import.meta.url), { type: 'module' });
  } catch {
    worker = null;
  }
  const waiting = new Map();
  let next = 0;
  if (worker) {
    worker.onmessage = (event) => {
      const { id, geometry, error } = event.data;
      const job = waiting.get(id);
      waiting.delete(id);
      if (!job) return;
      if (error) job.reject(new Error(`contour worker: ${error}`)); else job.resolve(geometry);
    };
    worker.onerror = () => { worker = null; };
  }
  return (parsed, scale) => {
    const below = scale.domain[0] - 1;
    if (!worker) return Promise.resolve(tileGeometry(parsed.values, parsed.size, scale.thresholds, below));
    const id = next += 1;
    return new Promise((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      worker.postMessage({ id, values: parsed.values, size: parsed.size, thresholds: scale.thresholds, below });
    });
  };
}
