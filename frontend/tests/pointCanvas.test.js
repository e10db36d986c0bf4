import { describe, it, expect } from 'vitest';
import { sameDrawing, movedPlacement } from '../src/layers/pointCanvas.js';

describe('sameDrawing', () => {
  const a = { n: 1 }; const b = { n: 2 }; const rows = new Set([1]);
  const last = { chunks: [a, b], highlightChunk: null, highlightRows: rows, mode: 'overlay' };
  it('is true for the same chunks, highlight and mode', () => {
    expect(sameDrawing(last, { chunks: [a, b], highlightChunk: null, highlightRows: rows, mode: 'overlay' })).toBe(true);
  });
  it('is false when anything drawn differs, or nothing was drawn yet', () => {
    expect(sameDrawing(last, { chunks: [b, a], highlightChunk: null, highlightRows: rows, mode: 'overlay' })).toBe(false);
    expect(sameDrawing(last, { chunks: [a], highlightChunk: null, highlightRows: rows, mode: 'overlay' })).toBe(false);
    expect(sameDrawing(last, { chunks: [a, b], highlightChunk: null, highlightRows: new Set([1]), mode: 'overlay' })).toBe(false);
    expect(sameDrawing(last, { chunks: [a, b], highlightChunk: null, highlightRows: rows, mode: 'scatter' })).toBe(false);
    expect(sameDrawing(null, { chunks: [], highlightChunk: null, highlightRows: null, mode: 'overlay' })).toBe(false);
  });
});

describe('movedPlacement', () => {
  it('is the identity for the same transform', () => {
    expect(movedPlacement({ k: 2, x: 10, y: 20 }, { k: 2, x: 10, y: 20 }, 2, 400, 300)).toEqual([0, 0, 400, 300]);
  });
  it('shifts a pan by the translation in device pixels', () => {
    expect(movedPlacement({ k: 1, x: 15, y: -5 }, { k: 1, x: 10, y: 0 }, 2, 400, 300)).toEqual([10, -10, 400, 300]);
  });
  it('scales a zoom so a map point drawn at screen p lands where the new transform puts it', () => {
    const from = { k: 1, x: 0, y: 0 }; const t = { k: 2, x: -100, y: -50 };
    const [x, y, w, h] = movedPlacement(t, from, 1, 400, 300);
    expect([w, h]).toEqual([800, 600]);
    // a point at old screen (100, 80): new screen = t.x + t.k * (100 - from.x) / from.k
    expect(x + 100 * (w / 400)).toBe(-100 + 2 * 100);
    expect(y + 80 * (h / 300)).toBe(-50 + 2 * 80);
  });
});
