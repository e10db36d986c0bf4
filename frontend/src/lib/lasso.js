// Lasso geometry: turn a drawn path into a valid selection polygon and test points against it.
import { polygonArea, polygonContains } from 'd3';

export const MAX_VERTICES = 1000;

/** Drop vertices closer than `minDist` to the previous kept one (the raw mouse path is dense). */
export function thinPath(points, minDist) {
  if (points.length === 0) return [];
  const out = [points[0]];
  const d2 = minDist * minDist;
  for (let i = 1; i < points.length; i += 1) {
    const [px, py] = out[out.length - 1];
    const dx = points[i][0] - px;
    const dy = points[i][1] - py;
    if (dx * dx + dy * dy >= d2) out.push(points[i]);
  }
  return out;
}

/** Keep at most `max` vertices by taking evenly spaced ones (order preserved, first kept). */
export function capVertices(points, max = MAX_VERTICES) {
  if (points.length <= max) return points.slice();
  const out = [];
  for (let i = 0; i < max; i += 1) out.push(points[Math.floor((i * points.length) / max)]);
  return out;
}

/**
 * Selection polygon in map coordinates from a drawn path, or null when it encloses no area.
 * Vertices are clamped to the unit square, thinned, deduplicated, and capped at MAX_VERTICES.
 */
export function lassoPolygon(points, { minDist = 1e-4, max = MAX_VERTICES } = {}) {
  if (!Array.isArray(points)) throw new TypeError('lassoPolygon: points must be an array of [x, y]');
  const finite = points.filter((p) => Array.isArray(p) && Number.isFinite(p[0]) && Number.isFinite(p[1]));
  const clamped = finite.map(([x, y]) => [Math.min(1, Math.max(0, x)), Math.min(1, Math.max(0, y))]);
  let poly = capVertices(thinPath(clamped, minDist), max);
  if (poly.length > 1) {
    const [fx, fy] = poly[0];
    const [lx, ly] = poly[poly.length - 1];
    if (fx === lx && fy === ly) poly = poly.slice(0, -1);
  }
  if (poly.length < 3 || Math.abs(polygonArea(poly)) < 1e-12) return null;
  return poly;
}

export function polygonBBox(poly) {
  let x0 = Infinity; let y0 = Infinity; let x1 = -Infinity; let y1 = -Infinity;
  for (const [x, y] of poly) {
    if (x < x0) x0 = x; if (x > x1) x1 = x;
    if (y < y0) y0 = y; if (y > y1) y1 = y;
  }
  return [x0, y0, x1, y1];
}

/** Indices i with (xs[i], ys[i]) inside the polygon (bbox test first, then d3-polygon). */
export function pointsInside(poly, xs, ys) {
  const [x0, y0, x1, y1] = polygonBBox(poly);
  const out = [];
  for (let i = 0; i < xs.length; i += 1) {
    const x = xs[i]; const y = ys[i];
    if (x < x0 || x > x1 || y < y0 || y > y1) continue;
    if (polygonContains(poly, [x, y])) out.push(i);
  }
  return out;
}
