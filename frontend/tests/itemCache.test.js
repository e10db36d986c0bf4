import { describe, it, expect } from 'vitest';
import { itemCache } from '../src/lib/itemCache.js';

describe('itemCache', () => {
  it('keeps loaded items per dataset and id, fetching each once', async () => {
    const calls = [];
    const items = itemCache(async (dataset, id) => { calls.push([dataset, id]); return { id, prompt: `${dataset}:${id}` }; });
    expect(items.get('d', '1')).toBeUndefined();
    expect(await items.load('d', '1')).toEqual({ id: '1', prompt: 'd:1' });
    expect(items.get('d', '1')).toEqual({ id: '1', prompt: 'd:1' });
    expect(items.get('e', '1')).toBeUndefined();
    expect(calls).toEqual([['d', '1']]);
  });

  it('forgets the least recently used item beyond its capacity', async () => {
    const items = itemCache(async (dataset, id) => ({ id }), 2);
    await items.load('d', 'a');
    await items.load('d', 'b');
    items.get('d', 'a');
    await items.load('d', 'c');
    expect(items.get('d', 'a')).toEqual({ id: 'a' });
    expect(items.get('d', 'b')).toBeUndefined();
  });

  it('keeps nothing when the fetch fails', async () => {
    const items = itemCache(async () => { throw new Error('HTTP 404'); });
    await expect(items.load('d', 'x')).rejects.toThrow('HTTP 404');
    expect(items.get('d', 'x')).toBeUndefined();
  });
});
