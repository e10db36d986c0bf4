import { describe, it, expect } from 'vitest';
import { nearestFirst } from '../src/layers/contour.js';
import { tilesCovering } from '../src/lib/tiles.js';

describe('nearestFirst', () => {
  it('orders tiles by the distance of their centre to the view centre', () => {
    // keys are z/x/y: from (0.9, 0.8), tile 1/1/0 (centre 0.75, 0.25) is nearer than 1/0/1 (0.25, 0.75)
    const tiles = tilesCovering([0, 0, 1, 1], 1);
    expect(nearestFirst(tiles, [0.9, 0.8]).map((t) => t.key)).toEqual(['1/1/1', '1/1/0', '1/0/1', '1/0/0']);
    expect(nearestFirst(tiles, [0.1, 0.2]).map((t) => t.key)).toEqual(['1/0/0', '1/0/1', '1/1/0', '1/1/1']);
  });
  it('leaves the needed list as it was', () => {
    const tiles = tilesCovering([0, 0, 1, 1], 1);
    const keys = tiles.map((t) => t.key);
    nearestFirst(tiles, [0.9, 0.9]);
    expect(tiles.map((t) => t.key)).toEqual(keys);
  });
});
