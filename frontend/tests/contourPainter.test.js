import { describe, it, expect } from 'vitest';
import { tileRects } from '../src/layers/contourPainter.js';
import { makeViewport } from '../src/lib/viewport.js';

const tile = (z, x, y) => ({ z, x, y, key: `${z}/${x}/${y}` });

describe('tileRects', () => {
  const vp = makeViewport(532, 532); // size 500, margin 16
  const t = { k: 1, x: 0, y: 0 };
  it('draws a whole tile over its place on the map, in device pixels', () => {
    expect(tileRects(tile(0, 0, 0), tile(0, 0, 0), 512, t, vp, 2)).toEqual([0, 0, 512, 512, 32, 32, 1000, 1000]);
  });
  it('crops the quarter of a parent that stands in for a missing child', () => {
    expect(tileRects(tile(0, 0, 0), tile(1, 1, 0), 512, t, vp, 1)).toEqual([256, 0, 256, 256, 266, 16, 250, 250]);
  });
  it('rounds the edges so neighbours meet', () => {
    const odd = { k: 1, x: 0.3, y: 0.3 };
    const left = tileRects(tile(1, 0, 0), tile(1, 0, 0), 512, odd, vp, 1);
    const right = tileRects(tile(1, 1, 0), tile(1, 1, 0), 512, odd, vp, 1);
    expect(left[4] + left[6]).toBe(right[4]);
    expect(left.slice(4).every(Number.isInteger)).toBe(true);
  });
});
