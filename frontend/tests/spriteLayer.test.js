import { describe, it, expect } from 'vitest';
import { thumbnailLevel, sheetsFor, thumbnailAt, THUMB_PX, SHEET_DEPTH, FRAME_PX } from '../src/layers/spriteLayer.js';

describe('thumbnailLevel', () => {
  it('is −1 until level-0 samples lie a thumbnail apart, then one level per doubling of the zoom', () => {
    const size = 900; const r0 = 1 / 48;
    const k0 = THUMB_PX / (r0 * size); // zoom where level-0 spacing equals the thumbnail size
    expect(thumbnailLevel(k0 * 0.9, size, r0, 8)).toBe(-1);
    expect(thumbnailLevel(k0, size, r0, 8)).toBe(0);
    expect(thumbnailLevel(k0 * 2, size, r0, 8)).toBe(1);
    expect(thumbnailLevel(k0 * 2 ** 10, size, r0, 8)).toBe(8);
  });
});

describe('sheetsFor', () => {
  it('lists the sheets SHEET_DEPTH levels below the sample level covering the view', () => {
    expect(sheetsFor([0, 0, 1, 1], -1)).toEqual([]);
    const tiles = sheetsFor([0.1, 0.1, 0.3, 0.2], 0);
    expect(tiles.every((t) => t.z === SHEET_DEPTH)).toBe(true);
    expect(tiles.map((t) => t.key)).toEqual(['2/0/0', '2/1/0']);
  });
});

describe('thumbnailAt', () => {
  const thumb = (id, x, y, enlarged = false) => ({ id, box: [x, y, 40, 30], enlarged });
  it('finds the thumbnail under a point, its frame included, the one drawn last on top', () => {
    const drawn = [thumb('a', 0, 0), thumb('b', 20, 10)];
    expect(thumbnailAt(drawn, 5, 5).id).toBe('a');
    expect(thumbnailAt(drawn, 30, 20).id).toBe('b');           // both cover it: b is on top
    expect(thumbnailAt(drawn, -FRAME_PX, 0).id).toBe('a');     // on a's frame
    expect(thumbnailAt(drawn, 100, 100)).toBe(null);
  });
  it('gives the enlarged thumbnail first wherever it covers the point', () => {
    const big = { id: 'big', box: [0, 0, 160, 120], enlarged: true };
    expect(thumbnailAt([big, thumb('c', 50, 50)], 60, 60).id).toBe('big');
  });
});
