import { describe, it, expect } from 'vitest';
import { lassoPolygon, thinPath, capVertices, pointsInside, polygonBBox, MAX_VERTICES } from '../src/lib/lasso.js';

const circle = (n, r = 0.2, cx = 0.5, cy = 0.5) => Array.from({ length: n }, (_, i) => [
  cx + r * Math.cos((2 * Math.PI * i) / n), cy + r * Math.sin((2 * Math.PI * i) / n)]);

describe('lassoPolygon', () => {
  it('keeps a simple drawn path as a polygon', () => {
    const poly = lassoPolygon([[0.1, 0.1], [0.4, 0.1], [0.4, 0.5], [0.1, 0.5]]);
    expect(poly).toEqual([[0.1, 0.1], [0.4, 0.1], [0.4, 0.5], [0.1, 0.5]]);
  });
  it('drops a repeated closing vertex', () => {
    const poly = lassoPolygon([[0.1, 0.1], [0.4, 0.1], [0.4, 0.5], [0.1, 0.1]]);
    expect(poly).toHaveLength(3);
  });
  it('caps the vertex count at the server limit', () => {
    const poly = lassoPolygon(circle(5000));
    expect(poly.length).toBeLessThanOrEqual(MAX_VERTICES);
    expect(poly.length).toBeGreaterThan(500);
  });
  it('clamps vertices to the unit square', () => {
    const poly = lassoPolygon([[-0.5, 0.2], [1.5, 0.2], [1.5, 0.9]]);
    for (const [x, y] of poly) { expect(x).toBeGreaterThanOrEqual(0); expect(x).toBeLessThanOrEqual(1); expect(y).toBeLessThanOrEqual(1); }
  });
  it('returns null for a click, a line or non-finite input', () => {
    expect(lassoPolygon([[0.2, 0.2]])).toBeNull();
    expect(lassoPolygon([[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]])).toBeNull();
    expect(lassoPolygon([[NaN, 0], [0.1, Infinity]])).toBeNull();
    expect(() => lassoPolygon('x')).toThrow(/points/);
  });
});

describe('helpers', () => {
  it('thinPath drops points closer than minDist', () => {
    expect(thinPath([[0, 0], [0.001, 0], [0.5, 0], [0.5005, 0]], 0.01)).toEqual([[0, 0], [0.5, 0]]);
  });
  it('capVertices keeps order and the first vertex', () => {
    const pts = Array.from({ length: 10 }, (_, i) => [i, 0]);
    expect(capVertices(pts, 5)).toEqual([[0, 0], [2, 0], [4, 0], [6, 0], [8, 0]]);
  });
  it('pointsInside agrees with a circle test', () => {
    const poly = circle(400, 0.25);
    const xs = []; const ys = [];
    for (let i = 0; i < 41; i += 1) for (let j = 0; j < 41; j += 1) { xs.push(i / 40); ys.push(j / 40); }
    const inside = new Set(pointsInside(poly, xs, ys));
    xs.forEach((x, i) => {
      const d = Math.hypot(x - 0.5, ys[i] - 0.5);
      if (d < 0.245) expect(inside.has(i)).toBe(true);
      if (d > 0.255) expect(inside.has(i)).toBe(false);
    });
    expect(polygonBBox([[0.2, 0.3], [0.6, 0.1], [0.4, 0.9]])).toEqual([0.2, 0.1, 0.6, 0.9]);
  });
});
