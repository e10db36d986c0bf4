import { describe, it, expect } from 'vitest';
import { thumbnailLevel, sheetsFor, THUMB_PX, SHEET_DEPTH } from '../src/layers/spriteLayer.js';

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
