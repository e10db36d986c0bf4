import { describe, it, expect } from 'vitest';
import { makePointColour, categoryColour } from '../src/lib/pointColour.js';
import { toChunk, mergeChunks } from '../src/lib/pointStore.js';
import { blitPoints } from '../src/layers/points.js';
import { packRGBA } from '../src/lib/colour.js';
import { rgb } from 'd3';

const pack = (hex) => { const c = rgb(hex); return packRGBA(c.r, c.g, c.b, 255); };

describe('makePointColour', () => {
  it('gives each category its own colour, grey for missing or unknown indexes', () => {
    const pc = makePointColour({ name: 'model', kind: 'category', values: ['sdxl', 'flux', 'sd15'] });
    expect(pc.entries.map((e) => e.label)).toEqual(['sdxl', 'flux', 'sd15']);
    expect(new Set(pc.entries.map((e) => e.colour)).size).toBe(3);
    expect(pc.colour(1)).toBe(categoryColour(1));
    expect(pc.packed(2)).toBe(pack(categoryColour(2)));
    expect(pc.colour(NaN)).toBe('#b9b9b9');
    expect(pc.colour(3)).toBe('#b9b9b9');
    expect(pc.colour(0.5)).toBe('#b9b9b9');
  });

  it('maps numbers and times over the dataset-wide domain, clamped, grey when missing', () => {
    const pc = makePointColour({ name: 'guidance', kind: 'number', domain: [2, 12] });
    expect(pc.domain).toEqual([2, 12]);
    expect(pc.colour(2)).toBe(pc.entries[0].colour);
    expect(pc.colour(12)).toBe(pc.entries[10].colour);
    expect(pc.colour(-100)).toBe(pc.colour(2));
    expect(pc.colour(7)).not.toBe(pc.colour(2));
    expect(pc.packed(NaN)).toBe(pack('#b9b9b9'));
    const time = makePointColour({ name: 'made', kind: 'time', domain: [0, 0] });
    expect(time.domain[1]).toBeGreaterThan(time.domain[0]);
  });

  it('rejects info it cannot colour', () => {
    expect(() => makePointColour(null)).toThrow(TypeError);
    expect(() => makePointColour({ name: 'prompt', kind: 'text' })).toThrow(/unknown kind/);
  });
});

describe('point chunks with a colour column', () => {
  const response = { colour: { name: 'split', kind: 'category', values: ['train', 'test'] }, points: {
    row: [0, 1, 2], id: ['a', 'b', 'c'], x: [0.1, 0.2, 0.9], y: [0.1, 0.2, 0.9], value: [1, 2, 3], colour: [1, null, 0] } };

  it('keeps the column (null as NaN) and its legend info, also when merged', () => {
    const c = toChunk(response, [0, 0, 0.5, 0.5], 'k');
    expect([...c.colour]).toEqual([1, NaN]);
    expect(c.colourInfo.name).toBe('split');
    const m = mergeChunks([c, toChunk(response, [0.5, 0.5, 1, 1], 'j')], 'm');
    expect([...m.colour]).toEqual([1, NaN, 0]);
    expect(m.colourInfo.values).toEqual(['train', 'test']);
  });

  it('paints points by the column when the colour function says so, else by the metric value', () => {
    const chunk = toChunk(response, [0, 0, 1, 1], 'k');
    const pc = makePointColour(response.colour);
    const byColumn = Object.assign((v) => pc.packed(v), { byColumn: true });
    const vp = { size: 10, ox: 0, oy: 0 };
    const t = { k: 1, x: 0, y: 0 };
    const pixels = new Uint32Array(100);
    blitPoints(pixels, 10, 10, [chunk], t, vp, 1, { radius: 0.5, ring: null, colour: byColumn, include: null, dimmed: null });
    expect(pixels[9 * 10 + 9]).toBe(pack(categoryColour(0)));
    expect(pixels[1 * 10 + 1]).toBe(pack(categoryColour(1)));
    const byValue = (v) => v;
    blitPoints(pixels, 10, 10, [chunk], t, vp, 1, { radius: 0.5, ring: null, colour: byValue, include: null, dimmed: null });
    expect(pixels[9 * 10 + 9]).toBe(3);
  });
});
