import { describe, it, expect } from 'vitest';
import { spriteSize, placement, unpackRGBA, frameColours } from '../src/layers/pointGL.js';
import { stampOffsets, pixelTransform, countInCanvas, pointsInBox, DIMMED } from '../src/layers/points.js';
import { frameStyle } from '../src/layers/pointCanvas.js';
import { packRGBA } from '../src/lib/colour.js';
import { makeViewport } from '../src/lib/viewport.js';

describe('spriteSize', () => {
  it('is the odd square that holds the canvas stamp, ring included', () => {
    for (const radius of [0.5, 1, 1.5, 2.5, 3, 5]) {
      for (const ring of [false, true]) {
        const { disc, ring: ringPx } = stampOffsets(radius);
        const reach = Math.max(...[...disc, ...(ring ? ringPx : [])].map(Math.abs));
        expect(spriteSize(radius, ring)).toBe(2 * reach + 1);
      }
    }
    expect(spriteSize(0.5, false)).toBe(1); // a million points: one pixel each
  });
});

describe('pixel transform', () => {
  const vp = makeViewport(200, 100, 0);
  it('puts the map in the viewport and counts the points whose pixel is on the canvas', () => {
    const pt = pixelTransform({ k: 2, x: -50, y: 10 }, vp, 2);
    expect(pt).toEqual({ a: 2 * 100 * 2, bx: (-50 + 2 * 50) * 2, by: (10 + 0) * 2 });
    const chunk = { n: 3, x: Float32Array.from([0, 0.5, 1]), y: Float32Array.from([0, 0.2, 0.4]) };
    // pixels: x 100, 300, 500 (canvas 400 wide); y 20, 100, 180 (canvas 200 high)
    expect(countInCanvas([chunk], pt, 400, 200)).toBe(2);
  });
  it('places points relative to a float32 origin to the same pixels as the direct sum', () => {
    const pt = { a: 1400 * 4096, bx: -1400 * 4096 * 0.3 + 10, by: -1400 * 4096 * 0.6 + 20 };
    const origin = [0.3 + 1e-9, 0.6 - 3e-9];
    const u = placement(pt, origin);
    expect(u.origin.every((v, i) => v === Math.fround(origin[i]))).toBe(true);
    for (const x of [0.3, 0.30001, 0.3000123]) {
      const xf = Math.fround(x);
      const direct = Math.floor(pt.bx + pt.a * xf + 0.5);
      const shader = Math.floor(Math.fround(u.offset[0]) + Math.fround(pt.a) * Math.fround(xf - u.origin[0]) + 0.5);
      expect(shader).toBe(direct);
    }
  });
});

describe('colours', () => {
  it('unpacks packed RGBA to the 0..1 floats WebGL reads from the same bytes', () => {
    expect(unpackRGBA(packRGBA(255, 0, 51, 255))).toEqual([1, 0, 0.2, 1]);
    const packed = Uint32Array.from([packRGBA(10, 20, 30, 255)]);
    expect([...new Uint8Array(packed.buffer)]).toEqual([10, 20, 30, 255]);
  });
  it('dims the rows a highlight leaves out, or hides them (alpha 0) on the highlight pass', () => {
    const chunk = { n: 3, row: Int32Array.from([4, 5, 6]), value: Float32Array.from([1, 2, 3]) };
    const colour = (v) => packRGBA(v, v, v, 255);
    expect([...frameColours(chunk, colour, null, DIMMED)]).toEqual([1, 2, 3].map(colour));
    const include = (row) => row === 5;
    expect([...frameColours(chunk, colour, include, DIMMED)]).toEqual([DIMMED, colour(2), DIMMED]);
    expect([...frameColours(chunk, colour, include, 0)]).toEqual([0, colour(2), 0]);
  });
});

describe('points in view', () => {
  const n = 10000;
  const chunk = { n, x: new Float32Array(n), y: new Float32Array(n) };
  for (let i = 0; i < n; i += 1) { chunk.x[i] = (i % 100) / 99; chunk.y[i] = Math.floor(i / 100) / 99; }
  it('is exact for a box holding or missing the whole chunk, and near for a part', () => {
    expect(pointsInBox([chunk], [0, 0, 1, 1])).toBe(n);
    expect(pointsInBox([chunk], [0, 0, 1, 1])).toBe(n); // the grid is made once
    expect(pointsInBox([{ ...chunk, grid: undefined, x: chunk.x.map((v) => v * 0.1), y: chunk.y }], [0.5, 0, 1, 1])).toBe(0);
    const quarter = pointsInBox([chunk], [0, 0, 0.5, 0.5]);
    expect(quarter).toBeGreaterThanOrEqual(2500);
    expect(quarter).toBeLessThan(2500 * 1.1);
  });
  it('sizes the stamps by the points in view, not by the chunk', () => {
    const frame = { mode: 'scatter', dpr: 1, highlightRows: new Set([3]) };
    expect(frameStyle(frame, 1000000).main).toEqual({ radius: 0.5, ring: null });
    expect(frameStyle(frame, 1000).main.radius).toBe(2.5);
    const { hl, include } = frameStyle(frame, 1000);
    expect(hl.radius).toBe(3);
    expect([include(3), include(4)]).toEqual([true, false]);
    expect(frameStyle({ ...frame, highlightRows: null }, 10).include).toBe(null);
  });
});
