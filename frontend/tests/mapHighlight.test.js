import { describe, it, expect } from 'vitest';
import { highlightOf, mapHighlight } from '../src/views/mapHighlight.js';

// A lasso selection of 4 sampled items out of 10, with one keyword whose bins split them 2/2.
const selection = {
  count: 10,
  sample: { row: [3, 5, 8, 9], id: ['a', 'b', 'c', 'd'], x: [0.1, 0.2, 0.3, 0.4], y: [0.5, 0.5, 0.5, 0.5], value: [1, 2, 3, 4], size: 4, sampled: true },
  keywords: { keywords: [{ keyword: 'dog', bins: [{}, {}], bin_of: [0, 1, 1, 0] }] },
};
const base = { selection: null, selectionSource: null, lassoSlot: 'a', filter: [], highlight: null, mode: 'overlay', mapInfo: { n: 1 }, dataset: 'd', metric: 'm' };

describe('highlightOf', () => {
  it('is null when nothing is highlighted, and for the lasso on this map without a filter', () => {
    expect(highlightOf(base, 'a')).toBeNull();
    expect(highlightOf({ ...base, selection, selectionSource: 'lasso', lassoSlot: 'a' }, 'a')).toBeNull();
  });
  it('a filter keeps the matching sampled rows and estimates the whole count', () => {
    const h = highlightOf({ ...base, selection, selectionSource: 'lasso', filter: [{ keyword: 'dog', bin: 1 }] }, 'a');
    expect([...h.rows]).toEqual([5, 8]);
    expect(h.label).toBe('filtered items');
    expect(h.count).toBe('≈5 (2 of a 4-item sample shown)');
  });
  it('a SPEC cluster highlights its rows', () => {
    const h = highlightOf({ ...base, highlight: { label: 'cluster 2 (x groups)', rows: [1, 2, 2] } }, 'b');
    expect([...h.rows]).toEqual([1, 2]);
    expect([h.label, h.count]).toEqual(['cluster 2 (x groups)', '2']);
  });
  it('a lasso on the other map highlights its sample here', () => {
    const h = highlightOf({ ...base, selection, selectionSource: 'lasso', lassoSlot: 'a' }, 'b');
    expect([...h.rows]).toEqual([3, 5, 8, 9]);
    expect([h.label, h.count]).toEqual(['selected on the other map', '10 (4 sampled shown)']);
  });
  it('throws for a bar the selection does not have', () => {
    expect(() => highlightOf({ ...base, selection, filter: [{ keyword: 'cat', bin: 0 }] }, 'a')).toThrow(/no bar 0 for keyword "cat"/);
  });
});

describe('mapHighlight', () => {
  const settle = () => new Promise((r) => setTimeout(r, 0));
  function fakeApi() {
    const calls = [];
    const api = { postRowPoints: async (dataset, metric, rows) => {
      calls.push([dataset, metric, rows]);
      return { points: { row: rows, id: rows.map(String), x: rows.map(() => 0.5), y: rows.map(() => 0.5), value: rows.map(() => 1) } };
    } };
    return { api, calls };
  }

  it('uses the selection sample on the lasso map, without a request', () => {
    const { api, calls } = fakeApi();
    const hl = mapHighlight(api, 'a');
    const s = { ...base, selection, selectionSource: 'lasso', lassoSlot: 'a' };
    expect(hl.update(s, base)).toBe(true);
    expect([...hl.chunk().row]).toEqual([3, 5, 8, 9]);
    expect(hl.rows()).toBeNull();
    expect(calls).toEqual([]);
  });

  it('looks up the rows of a lasso on the other map, and says when they arrive', async () => {
    const { api, calls } = fakeApi();
    let changes = 0;
    const hl = mapHighlight(api, 'b').onChange(() => { changes += 1; });
    hl.update({ ...base, selection, selectionSource: 'lasso', lassoSlot: 'a' }, base);
    expect(hl.chunk()).toBeNull();
    expect([...hl.rows()]).toEqual([3, 5, 8, 9]);
    expect(hl.label()).toBe('selected on the other map');
    await settle();
    expect(calls).toEqual([['d', 'm', [3, 5, 8, 9]]]);
    expect([...hl.chunk().row]).toEqual([3, 5, 8, 9]);
    expect(changes).toBe(1);
  });

  it('drops rows that arrive after a newer highlight was asked for', async () => {
    let release;
    const api = { postRowPoints: (d, m, rows) => new Promise((resolve) => {
      const answer = { points: { row: rows, id: rows.map(String), x: rows.map(() => 0.5), y: rows.map(() => 0.5), value: rows.map(() => 1) } };
      if (rows[0] === 1) release = () => resolve(answer); else resolve(answer);
    }) };
    const hl = mapHighlight(api, 'a');
    const first = { ...base, highlight: { label: 'one', rows: [1] } };
    hl.update(first, base);
    const second = { ...first, highlight: { label: 'two', rows: [2] } };
    hl.update(second, first);
    await settle();
    expect([...hl.chunk().row]).toEqual([2]);
    release();
    await settle();
    expect([...hl.chunk().row]).toEqual([2]);
  });

  it('works the rows out again only when what they depend on changes', () => {
    const { api } = fakeApi();
    const hl = mapHighlight(api, 'a');
    expect(hl.update({ ...base, hover: { id: 'x' } }, base)).toBe(false);
    expect(hl.update({ ...base, mode: 'contour' }, base)).toBe(true);
  });

  it('reports a bad filter and highlights nothing', () => {
    const { api } = fakeApi();
    const errors = [];
    const hl = mapHighlight(api, 'a').onError((err) => errors.push(err.message));
    hl.update({ ...base, selection, filter: [{ keyword: 'dog', bin: 1 }] }, base);
    expect(hl.rows().size).toBe(2);
    hl.update({ ...base, selection, filter: [{ keyword: 'cat', bin: 0 }] }, base);
    expect(hl.rows()).toBeNull();
    expect(errors).toEqual(['filter: no bar 0 for keyword "cat"']);
  });
});
