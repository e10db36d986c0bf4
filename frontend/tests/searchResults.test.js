import { describe, it, expect } from 'vitest';
import { searchHighlight, searchLabel, countText, MAX_SELECT } from '../src/lib/searchResults.js';

describe('searchLabel', () => {
  it('names the mode, the query and the threshold', () => {
    expect(searchLabel({ q: 'red st', mode: 'text' })).toBe('text "red st"');
    expect(searchLabel({ q: 'a dog', mode: 'semantic', minScore: 0.456 })).toBe('meaning "a dog" ≥ 0.46');
  });
});

describe('searchHighlight', () => {
  const answer = { rows: [4, 1, 9], ids: ['d', 'a', 'i'], count: 3 };
  it('highlights the rows without sending them to the keyword view', () => {
    const h = searchHighlight(answer, { q: 'x', mode: 'text' });
    expect(h.rows).toEqual([4, 1, 9]);
    expect(h.ids).toBeUndefined();
    expect(h.matchIds).toEqual(['d', 'a', 'i']);   // for the export, not a selection
    expect(h.label).toBe('text "x"');
  });
  it('select adds the ids, at most MAX_SELECT', () => {
    expect(searchHighlight(answer, { q: 'x', mode: 'text' }, { select: true }).ids).toEqual(['d', 'a', 'i']);
    const many = { rows: Array.from({ length: MAX_SELECT + 5 }, (_, i) => i), ids: Array.from({ length: MAX_SELECT + 5 }, (_, i) => `i${i}`) };
    expect(searchHighlight(many, { q: 'x', mode: 'text' }, { select: true }).ids).toHaveLength(MAX_SELECT);
  });
  it('refuses an answer without rows, or selecting without ids', () => {
    expect(() => searchHighlight({}, { q: 'x' })).toThrow('no rows');
    expect(() => searchHighlight({ rows: [1] }, { q: 'x' }, { select: true })).toThrow('ids');
  });
});

describe('countText', () => {
  it('counts matches, and says when semantic results were capped', () => {
    expect(countText({ count: 1 })).toBe('1 match');
    expect(countText({ count: 12 })).toBe('12 matches');
    expect(countText({ count: 10000, capped: true, max_results: 10000 })).toBe('10000 matches (among the 10000 nearest)');
    expect(countText(null)).toBe('');
  });
});
