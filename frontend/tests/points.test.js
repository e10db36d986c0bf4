import { describe, it, expect } from 'vitest';
import { toChunk, mergeChunks } from '../src/lib/pointStore.js';
import { fillMasked, padGrid, tileGeometry } from '../src/layers/contourGeometry.js';
import { stampOffsets, blitPoints } from '../src/layers/points.js';
import { makeViewport } from '../src/lib/viewport.js';
import { buildHitIndex, indexMatches } from '../src/lib/hitIndex.js';

describe('point chunks', () => {
  const response = { total_in_view: 4, capped: false, points: {
    row: [0, 1, 2, 3], id: ['a', 'b', 'c', 'd'], x: [0.1, 0.5, 0.25, 0.3], y: [0.1, 0.2, 0.5, 0.4], value: [1, 2, null, 4] } };
  it('keeps points in the half-open tile so neighbours never draw one twice', () => {
    const left = toChunk(response, [0, 0, 0.5, 0.5], 'L');
    const right = toChunk(response, [0.5, 0, 1, 0.5], 'R');
    expect([...left.row]).toEqual([0, 3]);
    expect([...right.row]).toEqual([1]);
    expect(left.id).toEqual(['a', 'd']);
    const below = toChunk(response, [0, 0.5, 0.5, 1], 'B');
    expect([...below.row]).toEqual([2]);
    expect(Number.isNaN(below.value[0])).toBe(true);
    const merged = mergeChunks([left, right, below], 'M');
    expect(merged.n).toBe(4);
    expect([...merged.row]).toEqual([0, 3, 1, 2]);
  });
});

describe('contour mask fill', () => {
  it('fills masked cells next to data with the neighbour mean and the rest with the fallback', () => {
    const v = Float32Array.from([1, 3, NaN, NaN, NaN, NaN, NaN, NaN, NaN]);
    const out = fillMasked(v, 3, 1, -9);
    expect(out[0]).toBe(1);
    expect(out[2]).toBe(3);
    expect(out[3]).toBe(2);
    expect(out[8]).toBe(-9);
  });
});

describe('points blit', () => {
  it('stamps each point in view and skips excluded ones', () => {
    const vp = makeViewport(100, 100, 0);
    const px = new Uint32Array(100 * 100);
    const chunk = { n: 3, x: Float32Array.from([0.1, 0.5, 2]), y: Float32Array.from([0.1, 0.5, 2]),
      value: Float32Array.from([0, 1, 1]), row: Int32Array.from([0, 1, 2]) };
    const drawn = blitPoints(px, 100, 100, [chunk], { k: 1, x: 0, y: 0 }, vp, 1,
      { radius: 1, ring: null, colour: (v) => (v ? 7 : 5), include: (r) => r !== 0, dimmed: null });
    expect(drawn).toBe(1);
    expect(px[50 * 100 + 50]).toBe(7);
    expect(px[10 * 100 + 10]).toBe(0);
    expect(stampOffsets(1).disc.length / 2).toBe(5);
  });
});

describe('hit index', () => {
  const chunk = (rows, xs) => ({ n: rows.length, row: Int32Array.from(rows), id: rows.map((r) => `i${r}`),
    x: Float32Array.from(xs), y: Float32Array.from(xs), value: Float32Array.from(xs) });
  it('finds the nearest drawn point within the radius and only highlighted extras', () => {
    const a = chunk([0, 1], [0.1, 0.5]);
    const extra = chunk([7, 8], [0.3, 0.9]);
    const idx = buildHitIndex([a], extra, new Set([7]));
    expect(idx.size).toBe(3);
    expect(idx.find(0.49, 0.49, 0.05).id).toBe('i1');
    expect(idx.find(0.31, 0.31, 0.05).id).toBe('i7');
    expect(idx.find(0.9, 0.9, 0.05)).toBeNull();
    expect(indexMatches(idx, [a], extra, idx.keepRows)).toBe(true);
    expect(indexMatches(idx, [a, extra], extra, idx.keepRows)).toBe(false);
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
