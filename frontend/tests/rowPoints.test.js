import { describe, it, expect } from 'vitest';
import { rowPoints, ROWS_PER_REQUEST } from '../src/lib/rowPoints.js';

describe('rowPoints', () => {
  it('asks in chunks under the body cap and merges the answers in order', async () => {
    const asked = [];
    const api = {
      async postRowPoints(dataset, metric, rows) {
        asked.push({ dataset, metric, n: rows.length });
        return { returned: rows.length, points: { row: rows, id: rows.map((r) => `item-${r}`), x: rows.map((r) => r / 1e5), y: rows.map(() => 0.5), value: rows.map(() => null) } };
      },
    };
    const rows = Array.from({ length: 2 * ROWS_PER_REQUEST + 7 }, (_, i) => i);
    const chunk = await rowPoints(api, { dataset: 'd', metric: 'm' }, rows);
    expect(asked).toEqual([{ dataset: 'd', metric: 'm', n: ROWS_PER_REQUEST }, { dataset: 'd', metric: 'm', n: ROWS_PER_REQUEST }, { dataset: 'd', metric: 'm', n: 7 }]);
    expect(chunk.n).toBe(rows.length);
    expect(Array.from(chunk.row)).toEqual(rows);
    expect(chunk.id[ROWS_PER_REQUEST + 3]).toBe(`item-${ROWS_PER_REQUEST + 3}`);
    expect(Number.isNaN(chunk.value[0])).toBe(true);
  });
});
