import { describe, it, expect } from 'vitest';
import { filterRows, toggleBar } from '../src/lib/filter.js';
import { LRU } from '../src/lib/lru.js';
import { toChunk, mergeChunks } from '../src/lib/pointStore.js';
import { fillMasked } from '../src/layers/contour.js';
import { stampOffsets, blitPoints } from '../src/layers/points.js';
import { makeViewport } from '../src/lib/viewport.js';

const selection = {
  keywords: { keywords: [
    { keyword: 'cat', bins: [{ rows: [1, 2] }, { rows: [3, 4, 5] }] },
    { keyword: 'dog', bins: [{ rows: [2, 3] }, { rows: [9] }] },
  ] },
};

describe('keyword filter', () => {
  it('is null with no bars', () => {
    expect(filterRows(selection, [])).toBeNull();
  });
  it('adds up bars of one keyword and narrows across keywords', () => {
    expect([...filterRows(selection, [{ keyword: 'cat', bin: 0 }, { keyword: 'cat', bin: 1 }])].sort()).toEqual([1, 2, 3, 4, 5]);
    expect([...filterRows(selection, [{ keyword: 'cat', bin: 0 }, { keyword: 'cat', bin: 1 }, { keyword: 'dog', bin: 0 }])].sort()).toEqual([2, 3]);
  });
  it('toggles bars on and off', () => {
    let f = toggleBar([], 'cat', 1);
    expect(f).toEqual([{ keyword: 'cat', bin: 1 }]);
    f = toggleBar(f, 'cat', 1);
    expect(f).toEqual([]);
  });
  it('names an unknown bar', () => {
    expect(() => filterRows(selection, [{ keyword: 'owl', bin: 0 }])).toThrow(/owl/);
  });
});

describe('LRU', () => {
  it('evicts the least recently used entry', () => {
    const c = new LRU(2);
    const evicted = [];
    c.onEvict = (k) => evicted.push(k);
    c.set('a', 1).set('b', 2);
    c.get('a');
    c.set('c', 3);
    expect(c.has('b')).toBe(false);
    expect(c.get('a')).toBe(1);
    expect(evicted).toEqual(['b']);
    expect(() => new LRU(0)).toThrow(/capacity/);
  });
});

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
