import { describe, it, expect } from 'vitest';
import { containsFilter, describeFilter, filterOf, inFilter, OTHER, rangeFilter, setColumnFilter, toggleValue } from '../src/lib/columnFilters.js';

describe('columnFilters', () => {
  it('keeps one filter per column, replaced or removed', () => {
    let f = setColumnFilter([], 'g', { range: [1, 2] });
    f = setColumnFilter(f, 'split', { in: ['test'], other: false });
    f = setColumnFilter(f, 'g', { range: [3, 4] });
    expect(f).toEqual([{ column: 'split', in: ['test'], other: false }, { column: 'g', range: [3, 4] }]);
    expect(filterOf(f, 'g').range).toEqual([3, 4]);
    expect(setColumnFilter(f, 'g', null)).toEqual([{ column: 'split', in: ['test'], other: false }]);
    expect(filterOf(f, 'nope')).toBeNull();
  });

  it('builds ranges from brushes in either direction, none for an empty one', () => {
    expect(rangeFilter('g', 5, 2)).toEqual({ column: 'g', range: [2, 5] });
    expect(rangeFilter('g', 2, 2)).toBeNull();
    expect(rangeFilter('g', NaN, 2)).toBeNull();
  });

  it('ticks and unticks categories and the other bar; nothing ticked is no filter', () => {
    let f = toggleValue([], 'model', 'sdxl');
    expect(f).toEqual([{ column: 'model', in: ['sdxl'], other: false }]);
    f = toggleValue(f, 'model', OTHER);
    f = toggleValue(f, 'model', null);
    expect(f).toEqual([{ column: 'model', in: ['sdxl', null], other: true }]);
    f = toggleValue(toggleValue(toggleValue(f, 'model', 'sdxl'), 'model', null), 'model', OTHER);
    expect(f).toEqual([]);
    expect(inFilter('m', [], true)).toEqual({ column: 'm', in: [], other: true });
  });

  it('trims text and describes filters', () => {
    expect(containsFilter('prompt', '  red star ')).toEqual({ column: 'prompt', contains: 'red star' });
    expect(containsFilter('prompt', '   ')).toBeNull();
    expect(describeFilter({ column: 'g', range: [1, 2] })).toBe('g 1 … 2');
    expect(describeFilter({ column: 'm', in: ['a', null], other: true })).toBe('m in a, missing, other');
    expect(describeFilter({ column: 'prompt', contains: 'cat' })).toBe('prompt contains “cat”');
  });
});
