import { describe, it, expect } from 'vitest';
import { zoomLevel, tilesCovering, tileBounds, parentOf, childrenOf, drawPlan, tileKey } from '../src/lib/tiles.js';
import { makeViewport, mapToScreen, screenToMap, visibleBBox, centreOn } from '../src/lib/viewport.js';

describe('zoomLevel', () => {
  it('is floor(log2 k) clamped to [0, maxLevel]', () => {
    expect(zoomLevel(0.5, 8)).toBe(0);
    expect(zoomLevel(1, 8)).toBe(0);
    expect(zoomLevel(1.99, 8)).toBe(0);
    expect(zoomLevel(2, 8)).toBe(1);
    expect(zoomLevel(7.9, 8)).toBe(2);
    expect(zoomLevel(1024, 8)).toBe(8);
  });
  it('rejects bad arguments', () => {
    expect(() => zoomLevel(0, 3)).toThrow(/k/);
    expect(() => zoomLevel(2, -1)).toThrow(/maxLevel/);
  });
});

describe('tilesCovering', () => {
  it('covers the whole square with 4^z tiles', () => {
    expect(tilesCovering([0, 0, 1, 1], 0).map((t) => t.key)).toEqual(['0/0/0']);
    expect(tilesCovering([0, 0, 1, 1], 2)).toHaveLength(16);
  });
  it('returns only tiles that intersect the box', () => {
    const keys = tilesCovering([0.3, 0.55, 0.6, 0.7], 2).map((t) => t.key);
    expect(keys).toEqual(['2/1/2', '2/2/2']);
  });
  it('every point of the box lies in a returned tile', () => {
    const box = [0.13, 0.21, 0.77, 0.49];
    const tiles = tilesCovering(box, 3);
    for (let i = 0; i < 200; i += 1) {
      const x = box[0] + ((i * 37) % 100) / 100 * (box[2] - box[0]);
      const y = box[1] + ((i * 61) % 100) / 100 * (box[3] - box[1]);
      expect(tiles.some((t) => { const b = tileBounds(t.z, t.x, t.y); return x >= b[0] && x <= b[2] && y >= b[1] && y <= b[3]; })).toBe(true);
    }
  });
});

describe('tile tree', () => {
  it('bounds, parents and children agree', () => {
    expect(tileBounds(1, 1, 0)).toEqual([0.5, 0, 1, 0.5]);
    expect(parentOf({ z: 3, x: 5, y: 2 }).key).toBe('2/2/1');
    expect(parentOf({ z: 0, x: 0, y: 0 })).toBeNull();
    const kids = childrenOf({ z: 1, x: 1, y: 0 }).map((t) => t.key);
    expect(kids).toEqual(['2/2/0', '2/3/0', '2/2/1', '2/3/1']);
    for (const k of childrenOf({ z: 2, x: 3, y: 1 })) expect(parentOf(k).key).toBe('2/3/1');
  });
});

describe('drawPlan', () => {
  const needed = tilesCovering([0, 0, 0.5, 0.5], 2); // 4 tiles of level 2
  it('draws ready tiles directly', () => {
    const plan = drawPlan(needed, () => true);
    expect(plan.every((op) => op.source.key === op.target.key)).toBe(true);
    expect(plan).toHaveLength(4);
  });
  it('stands in the nearest ready ancestor for missing tiles, coarse first', () => {
    const ready = new Set(['0/0/0', '2/0/0']);
    const plan = drawPlan(needed, (k) => ready.has(k));
    expect(plan).toHaveLength(4);
    expect(plan.filter((op) => op.source.key === '0/0/0')).toHaveLength(3);
    expect(plan[plan.length - 1].source.key).toBe('2/0/0');
    const zs = plan.map((op) => op.source.z);
    expect([...zs].sort((a, b) => a - b)).toEqual(zs);
  });
  it('prefers the closer ancestor', () => {
    const ready = new Set(['0/0/0', '1/0/0']);
    const plan = drawPlan([{ z: 2, x: 1, y: 1, key: tileKey(2, 1, 1) }], (k) => ready.has(k));
    expect(plan.map((op) => op.source.key)).toEqual(['1/0/0']);
  });
  it('uses ready children when zooming out and no ancestor is loaded', () => {
    const ready = new Set(['1/0/0', '1/1/1']);
    const plan = drawPlan([{ z: 0, x: 0, y: 0, key: '0/0/0' }], (k) => ready.has(k));
    expect(plan.map((op) => op.source.key).sort()).toEqual(['1/0/0', '1/1/1']);
  });
  it('draws nothing when nothing is ready', () => {
    expect(drawPlan(needed, () => false)).toEqual([]);
  });
});

describe('viewport', () => {
  const vp = makeViewport(800, 600, 20);
  it('fits the unit square in the smaller side, centred', () => {
    expect(vp.size).toBe(560);
    expect(mapToScreen({ k: 1, x: 0, y: 0 }, vp, 0.5, 0.5)).toEqual([400, 300]);
  });
  it('screenToMap inverts mapToScreen under zoom', () => {
    const t = { k: 3.7, x: -120, y: 44 };
    const [sx, sy] = mapToScreen(t, vp, 0.31, 0.82);
    const [x, y] = screenToMap(t, vp, sx, sy);
    expect(x).toBeCloseTo(0.31, 10);
    expect(y).toBeCloseTo(0.82, 10);
  });
  it('visible box shrinks by the zoom factor and is null off the map', () => {
    const box = visibleBBox(centreOn(vp, 0.5, 0.5, 4), vp);
    expect(box[2] - box[0]).toBeCloseTo(800 / (4 * 560), 10);
    expect(visibleBBox({ k: 1, x: 5000, y: 0 }, vp)).toBeNull();
  });
  it('rejects an empty view', () => {
    expect(() => makeViewport(0, 100)).toThrow(/size/);
  });
});
