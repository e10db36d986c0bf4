import { describe, it, expect } from 'vitest';
import { parseTile, valueAt, fillMasked, padGrid, tileGeometry } from '../src/layers/contourGeometry.js';

describe('parseTile', () => {
  it('flattens rows into a grid with NaN for masked cells', () => {
    const parsed = parseTile({ z: 1, x: 0, y: 1, size: 2, values: [[1, null], [undefined, 4]] });
    expect(parsed.size).toBe(2);
    expect(parsed.masked).toBe(2);
    expect([...parsed.values].map((v) => (Number.isNaN(v) ? 'NaN' : v))).toEqual([1, 'NaN', 'NaN', 4]);
  });
  it('names the tile when its rows do not match its size', () => {
    expect(() => parseTile({ z: 2, x: 1, y: 3, size: 3, values: [[1, 2, 3]] })).toThrow('contour tile 2/1/3: expected 3 rows of 3 values');
  });
});

describe('valueAt', () => {
  // Level 0: a 2×2 grid; level 1: only tile 1/1/0 (top right), a 2×2 grid of tens.
  const tiles = {
    '0/0/0': { size: 2, values: Float32Array.from([1, 2, 3, NaN]) },
    '1/1/0': { size: 2, values: Float32Array.from([10, 20, 30, 40]) },
  };
  const at = (key) => tiles[key];
  it('reads the finest loaded tile covering the point', () => {
    expect(valueAt(at, 0.8, 0.1, 1)).toBe(20);
    expect(valueAt(at, 0.6, 0.4, 1)).toBe(30);
  });
  it('falls back to coarser levels where the finer tile is not loaded', () => {
    expect(valueAt(at, 0.1, 0.1, 1)).toBe(1);
    expect(valueAt(at, 0.1, 0.9, 1)).toBe(3);
    expect(valueAt(at, 0.9, 0.9, 1)).toBeNaN();
  });
  it('keeps the map edge inside the last cell, and is null with nothing loaded', () => {
    expect(valueAt(at, 1, 0, 1)).toBe(20);
    expect(valueAt(() => undefined, 0.5, 0.5, 3)).toBeNull();
  });
});

describe('fillMasked', () => {
  it('fills masked cells next to data with the neighbour mean and the rest with the fallback', () => {
    const v = Float32Array.from([1, 3, NaN, NaN, NaN, NaN, NaN, NaN, NaN]);
    const out = fillMasked(v, 3, 1, -9);
    expect(out[0]).toBe(1);
    expect(out[2]).toBe(3);
    expect(out[3]).toBe(2);
    expect(out[8]).toBe(-9);
  });
});

describe('padGrid', () => {
  it('adds a ring of cells copying the edge', () => {
    const out = padGrid(Float64Array.from([1, 2, 3, 4]), 2);
    expect([...out]).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  });
});

describe('tileGeometry', () => {
  it('fills each threshold where the grid reaches it and outlines the masked cells', () => {
    const T = 8;
    const v = new Float32Array(T * T);
    for (let r = 0; r < T; r += 1) for (let c = 0; c < T; c += 1) v[r * T + c] = c < 4 ? 1 : 3;
    v[0] = NaN;
    const { bands, mask } = tileGeometry(v, T, [2, 5], -10);
    expect(bands).toHaveLength(2);
    expect(bands[0].coordinates.length).toBeGreaterThan(0);
    expect(bands[1].coordinates.length).toBe(0);
    const xs = bands[0].coordinates.flat(2).map((p) => p[0]);
    expect(Math.min(...xs)).toBeGreaterThan(4); // the value-3 half only (padded units: cell c at c + 1)
    expect(mask.coordinates.length).toBe(1);
  });
});
