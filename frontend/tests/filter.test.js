import { describe, it, expect } from 'vitest';
import { filterRows, toggleBar } from '../src/lib/filter.js';
import { LRU } from '../src/lib/lru.js';

const selection = {
  keywords: { keywords: [
    { keyword: 'cat', bins: [{ rows: [1, 2] }, { rows: [3, 4, 5] }] },
    { keyword: 'dog', bins: [{ rows: [2, 3] }, { rows: [9] }] },
  ] },
};

describe('keyword filter', () => {
  it('is null with no bars', () => {
    expect(filterRows(selection, [])).toBeNull();
  });
  it('adds up bars of one keyword and narrows across keywords', () => {
    expect([...filterRows(selection, [{ keyword: 'cat', bin: 0 }, { keyword: 'cat', bin: 1 }])].sort()).toEqual([1, 2, 3, 4, 5]);
    expect([...filterRows(selection, [{ keyword: 'cat', bin: 0 }, { keyword: 'cat', bin: 1 }, { keyword: 'dog', bin: 0 }])].sort()).toEqual([2, 3]);
  });
  it('toggles bars on and off', () => {
    let f = toggleBar([], 'cat', 1);
    expect(f).toEqual([{ keyword: 'cat', bin: 1 }]);
    f = toggleBar(f, 'cat', 1);
    expect(f).toEqual([]);
  });
  it('names an unknown bar', () => {
    expect(() => filterRows(selection, [{ keyword: 'owl', bin: 0 }])).toThrow(/owl/);
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
