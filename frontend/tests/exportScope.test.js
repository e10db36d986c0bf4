import { describe, it, expect } from 'vitest';
import { exportScope } from '../src/views/distributions.js';

describe('exportScope', () => {
  const polygon = [[0, 0], [1, 0], [0, 1]];
  it('takes the lasso first, then selected ids, then search matches, else the whole dataset', () => {
    expect(exportScope({ lassoPolygon: polygon, highlight: { ids: ['a'] } })).toEqual({ body: { polygon }, label: 'the lasso' });
    expect(exportScope({ highlight: { ids: ['a', 'b'], matchIds: ['a', 'b', 'c'] } })).toEqual({ body: { ids: ['a', 'b'] }, label: 'the selected items' });
    expect(exportScope({ highlight: { rows: [3], matchIds: ['c'] } })).toEqual({ body: { ids: ['c'] }, label: 'the search matches' });
    expect(exportScope({ highlight: { rows: [3] } })).toEqual({ body: {}, label: 'the whole dataset' });
    expect(exportScope({ highlight: null, lassoPolygon: null })).toEqual({ body: {}, label: 'the whole dataset' });
  });
});
