import { describe, it, expect } from 'vitest';
import { makeColourScale, packRGBA } from '../src/lib/colour.js';
import { legendTicks } from '../src/views/legend.js';

const hexToRgb = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));

describe('makeColourScale', () => {
  it('splits a sequential domain into equal bands with thresholds inside it', () => {
    const s = makeColourScale({ colour_domain: [10, 30] }, { bands: 4 });
    expect(s.domain).toEqual([10, 30]);
    expect(s.thresholds).toEqual([15, 20, 25]);
    expect(s.bandColours).toHaveLength(4);
    expect(new Set(s.bandColours).size).toBe(4);
  });

  it('puts values in bands and clamps values outside the domain to the end bands', () => {
    const s = makeColourScale({ colour_domain: [0, 1] }, { bands: 5 });
    expect(s.bandOf(-3)).toBe(0);
    expect(s.bandOf(0.1)).toBe(0);
    expect(s.bandOf(0.2)).toBe(1);
    expect(s.bandOf(0.99)).toBe(4);
    expect(s.bandOf(7)).toBe(4);
    expect(s.unit(-1)).toBe(0);
    expect(s.unit(2)).toBe(1);
    expect(s.unit(0.25)).toBeCloseTo(0.25);
  });

  it('centres a diverging scale at 0 with a symmetric domain and a neutral middle band', () => {
    const s = makeColourScale({ colour_domain: [-2, 5], diverging: true });
    expect(s.domain).toEqual([-5, 5]);
    expect(s.bands % 2).toBe(1);
    const mid = s.bandOf(0);
    expect(mid).toBe((s.bands - 1) / 2);
    const [r, g, b] = hexToRgb(s.bandColours[mid]);
    // The neutral band is light and unsaturated.
    expect(Math.min(r, g, b)).toBeGreaterThan(200);
    expect(Math.max(r, g, b) - Math.min(r, g, b)).toBeLessThan(25);
    // Opposite signs get opposite hues: red for negative, blue for positive.
    const [nr, , nb] = hexToRgb(s.colour(-4));
    const [pr, , pb] = hexToRgb(s.colour(4));
    expect(nr).toBeGreaterThan(nb);
    expect(pb).toBeGreaterThan(pr);
  });

  it('gives the same colour for a value whatever else is asked (no data-dependent domain)', () => {
    const info = { colour_domain: [0, 100] };
    const a = makeColourScale(info);
    const b = makeColourScale(info);
    expect(a.colour(42)).toBe(b.colour(42));
    expect(a.packed(42)).toBe(b.packed(42));
  });

  it('packs colours in ImageData byte order and matches the continuous colour', () => {
    const s = makeColourScale({ colour_domain: [0, 1] });
    const packed = s.packed(1);
    const bytes = new Uint8Array(new Uint32Array([packed]).buffer);
    expect([...bytes.slice(0, 3)]).toEqual(hexToRgb(s.colour(1)));
    expect(bytes[3]).toBe(255);
    expect(packRGBA(1, 2, 3, 4)).toBe(0x04030201);
  });

  it('widens a zero-width domain instead of dividing by zero', () => {
    const s = makeColourScale({ colour_domain: [3, 3] });
    expect(s.domain[0]).toBeLessThan(3);
    expect(s.domain[1]).toBeGreaterThan(3);
    expect(Number.isFinite(s.unit(3))).toBe(true);
  });

  it('rejects a bad domain or band count naming the parameter', () => {
    expect(() => makeColourScale({})).toThrow(/colour_domain/);
    expect(() => makeColourScale({ colour_domain: [2, 1] })).toThrow(/colour_domain/);
    expect(() => makeColourScale({ colour_domain: [0, NaN] })).toThrow(/colour_domain/);
    expect(() => makeColourScale({ colour_domain: [0, 1] }, { bands: 1 })).toThrow(/bands/);
  });
});

describe('legendTicks', () => {
  it('labels both ends and never two neighbouring edges on a sequential scale', () => {
    const edges = Array.from({ length: 11 }, (_, i) => i);
    const ticks = legendTicks(edges, false);
    expect(ticks[0]).toEqual({ v: 0, i: 0 });
    expect(ticks[ticks.length - 1]).toEqual({ v: 10, i: 10 });
    for (let k = 1; k < ticks.length; k += 1) expect(ticks[k].i - ticks[k - 1].i).toBeGreaterThanOrEqual(2);
  });
  it('labels a diverging scale symmetrically with 0 at the centre', () => {
    const s = makeColourScale({ colour_domain: [-3, 2], diverging: true });
    const edges = [s.domain[0], ...s.thresholds, s.domain[1]];
    const ticks = legendTicks(edges, true);
    const centre = ticks.find((t) => t.v === 0);
    expect(centre.i).toBe((edges.length - 1) / 2);
    const labelled = ticks.filter((t) => t.v !== 0);
    for (const t of labelled) {
      const mirror = labelled.find((m) => m.i === edges.length - 1 - t.i);
      expect(mirror.v).toBeCloseTo(-t.v, 10);
    }
  });
});
