// Worker: contour geometry off the main thread, so zooming stays smooth while tiles arrive.
import { tileGeometry } from './contourGeometry.js';

self.onmessage = (event) => {
  const { id, values, size, thresholds, below } = event.data;
  try {
    self.postMessage({ id, geometry: tileGeometry(values, size, thresholds, below) });
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message ? err.message : err) });
  }
};
