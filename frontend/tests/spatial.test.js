import { describe, it, expect } from 'vitest';
import { makePointIndex } from '../src/lib/spatial.js';

function brute(xs, ys, x, y, radius) {
  let best = -1; let bestD2 = radius * radius;
  for (let i = 0; i < xs.length; i += 1) {
    const d2 = (xs[i] - x) ** 2 + (ys[i] - y) ** 2;
    if (d2 < bestD2) { bestD2 = d2; best = i; }
  }
  return best;
}

describe('makePointIndex', () => {
  it('finds the nearest point closer than the radius, as a scan does', () => {
    let s = 7;
    const rnd = () => { s = (s * 16807) % 2147483647; return s / 2147483647; };
    const n = 5000;
    const xs = new Float32Array(n); const ys = new Float32Array(n);
    // clustered, as maps are: half the points in a small blob
    for (let i = 0; i < n; i += 1) { const f = i % 2 ? 1 : 0.02; xs[i] = 0.3 + f * rnd(); ys[i] = 0.4 + f * rnd(); }
    const index = makePointIndex(xs, ys);
    expect(index.size).toBe(n);
    for (let q = 0; q < 500; q += 1) {
      const x = rnd() * 1.4 - 0.1; const y = rnd() * 1.4 - 0.1; const r = [0.001, 0.01, 0.2][q % 3];
      expect(index.find(x, y, r)).toBe(brute(xs, ys, x, y, r));
    }
  });
  it('answers -1 with no point in reach, and for no points at all', () => {
    const index = makePointIndex(Float32Array.from([0.5]), Float32Array.from([0.5]));
    expect(index.find(0.5, 0.5, 0.01)).toBe(0);
    expect(index.find(0.6, 0.5, 0.05)).toBe(-1);
    expect(index.find(0.55, 0.5, 0.05)).toBe(-1); // exactly at the radius: not closer
    expect(makePointIndex(new Float32Array(0), new Float32Array(0)).find(0, 0, 1)).toBe(-1);
    expect(() => makePointIndex([1], [])).toThrow(/same length/);
  });
});
