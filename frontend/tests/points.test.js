import { describe, it, expect } from 'vitest';
import { toChunk, mergeChunks } from '../src/lib/pointStore.js';
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
  it('lists the rows it drew with their centre in view when asked', () => {
    const vp = makeViewport(100, 100, 0);
    const px = new Uint32Array(100 * 100);
    const chunk = { n: 4, x: Float32Array.from([0.1, 0.5, 2, 0.985]), y: Float32Array.from([0.1, 0.5, 2, 0.5]),
      value: Float32Array.from([0, 1, 1, 1]), row: Int32Array.from([10, 11, 12, 13]) };
    const drawnRows = [];
    const drawn = blitPoints(px, 100, 100, [chunk], { k: 1, x: 0, y: 0 }, vp, 1,
      { radius: 2, ring: null, colour: () => 7, include: (r) => r !== 10, dimmed: null, drawnRows });
    expect(drawnRows).toEqual([11, 13]); // 10 excluded, 12 off the canvas, 13 on its edge (clipped stamp)
    expect(drawn).toBe(2);
  });
});

describe('one-pixel blit', () => {
  it('paints what the general loop paints', () => {
    const vp = makeViewport(50, 40, 0);
    const n = 400;
    const chunk = { n, x: new Float32Array(n), y: new Float32Array(n), value: new Float32Array(n), row: new Int32Array(n) };
    for (let i = 0; i < n; i += 1) { chunk.x[i] = ((i * 37) % 101) / 90 - 0.05; chunk.y[i] = ((i * 53) % 97) / 90 - 0.05; chunk.value[i] = i; chunk.row[i] = i; }
    const colour = (v) => v + 1;
    const plain = new Uint32Array(50 * 40); const general = new Uint32Array(50 * 40);
    const t = { k: 1.3, x: -3, y: 2 };
    const a = blitPoints(plain, 50, 40, [chunk], t, vp, 1, { radius: 0.5, ring: null, colour, include: null, dimmed: null });
    const b = blitPoints(general, 50, 40, [chunk], t, vp, 1, { radius: 0.5, ring: null, colour, include: () => true, dimmed: null });
    expect(a).toBe(b);
    expect(a).toBeGreaterThan(100);
    expect([...plain]).toEqual([...general]);
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
