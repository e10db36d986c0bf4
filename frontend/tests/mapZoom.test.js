import { describe, it, expect } from 'vitest';
import { centredTransform, resizedTransform } from '../src/views/mapZoom.js';
import { makeViewport, mapToScreen } from '../src/lib/viewport.js';

describe('centredTransform', () => {
  it('puts the map point in the middle of the view at the scale asked', () => {
    const vp = makeViewport(800, 600);
    const t = centredTransform(vp, 0.25, 0.75, 4);
    expect(t.k).toBe(4);
    const [x, y] = mapToScreen(t, vp, 0.25, 0.75);
    expect(x).toBeCloseTo(400, 9);
    expect(y).toBeCloseTo(300, 9);
  });
});

describe('resizedTransform', () => {
  it('keeps the map point that was in the middle in the middle, at the same scale', () => {
    const old = makeViewport(800, 600);
    const t = centredTransform(old, 0.3, 0.6, 2);
    const vp = makeViewport(500, 600);
    const kept = resizedTransform(t, old, vp);
    expect(kept.k).toBe(2);
    const [x, y] = mapToScreen(kept, vp, 0.3, 0.6);
    expect(x).toBeCloseTo(250, 9);
    expect(y).toBeCloseTo(300, 9);
  });
  it('is null when the size did not change', () => {
    expect(resizedTransform({ k: 1, x: 5, y: 5 }, makeViewport(300, 200), makeViewport(300, 200))).toBeNull();
  });
});
