import { describe, it, expect } from 'vitest';
import { filterMatches, toggleBar } from '../src/lib/filter.js';
import { fetchSelectionIds } from '../src/lib/selectionIds.js';
import { LRU } from '../src/lib/lru.js';

// Sampled items 1, 2, 3, 4, 5, 9; cat's bar of each, dog's bar of each.
const selection = {
  count: 6,
  sample: { size: 6, sampled: false, row: [1, 2, 3, 4, 5, 9] },
  keywords: { keywords: [
    { keyword: 'cat', bins: [{ count: 2 }, { count: 4 }], bin_of: [0, 0, 1, 1, 1, 1] },
    { keyword: 'dog', bins: [{ count: 2 }, { count: 4 }], bin_of: [1, 0, 0, 1, 1, 1] },
  ] },
};

describe('keyword filter', () => {
  it('is null with no bars', () => {
    expect(filterMatches(selection, [])).toBeNull();
  });
  it('adds up bars of one keyword and narrows across keywords', () => {
    const cat = filterMatches(selection, [{ keyword: 'cat', bin: 0 }, { keyword: 'cat', bin: 1 }]);
    expect([...cat.rows].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 9]);
    expect(cat.estimate).toBe(6);
    const both = filterMatches(selection, [{ keyword: 'cat', bin: 0 }, { keyword: 'cat', bin: 1 }, { keyword: 'dog', bin: 0 }]);
    expect([...both.rows].sort((a, b) => a - b)).toEqual([2, 3]);
    expect(filterMatches(selection, [{ keyword: 'cat', bin: 0 }, { keyword: 'dog', bin: 0 }]).rows).toEqual(new Set([2]));
  });
  it('scales the count of a sampled selection to the whole selection', () => {
    const sampled = { ...selection, count: 600, sample: { ...selection.sample, sampled: true } };
    const m = filterMatches(sampled, [{ keyword: 'cat', bin: 0 }]);
    expect(m.rows).toEqual(new Set([1, 2]));
    expect(m.sampled).toBe(true);
    expect(m.estimate).toBe(200);
  });
  it('toggles bars on and off', () => {
    let f = toggleBar([], 'cat', 1);
    expect(f).toEqual([{ keyword: 'cat', bin: 1 }]);
    f = toggleBar(f, 'cat', 1);
    expect(f).toEqual([]);
  });
  it('names an unknown bar', () => {
    expect(() => filterMatches(selection, [{ keyword: 'owl', bin: 0 }])).toThrow(/owl/);
    expect(() => filterMatches(selection, [{ keyword: 'cat', bin: 7 }])).toThrow(/bar 7/);
  });
});

describe('selection ids', () => {
  function pagedApi(all, pageSeen) {
    return {
      async postSelectionIds(dataset, metric, body) {
        pageSeen.push({ dataset, metric, ...body });
        const ids = all.slice(body.offset, body.offset + body.limit);
        const end = body.offset + ids.length;
        return { count: all.length, offset: body.offset, ids, next_offset: end < all.length ? end : null };
      },
    };
  }
  it('follows next_offset until the last page and keeps the selection body', async () => {
    const all = Array.from({ length: 250001 }, (_, i) => `item-${i}`);
    const seen = [];
    const progress = [];
    const ids = await fetchSelectionIds(pagedApi(all, seen), { dataset: 'd', metric: 'm', body: { polygon: [[0, 0], [1, 0], [1, 1]] } }, (n) => progress.push(n));
    expect(ids).toEqual(all);
    expect(seen.map((p) => p.offset)).toEqual([0, 100000, 200000]);
    expect(seen.every((p) => p.polygon.length === 3 && p.dataset === 'd' && p.metric === 'm')).toBe(true);
    expect(progress).toEqual([100000, 200000, 250001]);
  }, 30000);   // 250k ids compared element by element: seconds on a loaded 2-core machine
  it('refuses a page from the wrong offset', async () => {
    const api = { postSelectionIds: async () => ({ offset: 5, ids: [], next_offset: null }) };
    await expect(fetchSelectionIds(api, { dataset: 'd', metric: 'm', body: {} })).rejects.toThrow(/from 0, got a page from 5/);
  });
});

describe('LRU', () => {
  it('evicts the least recently used entry', () => {
    const c = new LRU(2);
    const evicted = [];
    c.onEvict = (k) => evicted.push(k);
    c.set('a', 1).set('b', 2);
    c.get('a');
    c.set('c', 3);
    expect(c.has('b')).toBe(false);
    expect(c.get('a')).toBe(1);
    expect(evicted).toEqual(['b']);
    expect(() => new LRU(0)).toThrow(/capacity/);
  });
});
