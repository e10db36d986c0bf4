import { describe, it, expect } from 'vitest';
import { statusText } from '../src/views/overviewToolbar.js';

describe('statusText', () => {
  it('says the level and the items in view, by mode', () => {
    expect(statusText({ z: 2, mode: 'overlay', drawnPoints: 12345, capped: false, highlight: null })).toBe('z 2 · 12,345 sampled items in view');
    expect(statusText({ z: 0, mode: 'scatter', drawnPoints: 7, capped: false, highlight: null })).toBe('z 0 · 7 items in view');
    expect(statusText({ z: 3, mode: 'contour', drawnPoints: 0, capped: false, highlight: null })).toBe('z 3');
  });
  it('adds the thinning note and the highlight', () => {
    expect(statusText({ z: 1, mode: 'scatter', drawnPoints: 10, capped: true, highlight: { label: 'cluster 1 (x groups)', count: '40' } }))
      .toBe('z 1 · 10 items in view · (thinned: zoom in to see every item) · cluster 1 (x groups): 40');
  });
});

describe('statusText with column filters', () => {
  it('says how many items pass the filters, as the server counted them', () => {
    expect(statusText({ z: 1, mode: 'overlay', drawnPoints: 40, capped: false, highlight: null, filtered: { n: 1234, of: 5000, scope: 'in view' } }))
      .toBe('z 1 · 40 sampled items in view · 1,234 of 5,000 in view pass the filters');
  });
});
