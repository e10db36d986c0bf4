import { describe, it, expect } from 'vitest';
import { linkedHover } from '../src/views/linkedHover.js';
import { itemCache } from '../src/lib/itemCache.js';

const settle = () => new Promise((r) => setTimeout(r, 0));
const state = (hover) => ({ dataset: 'd', metric: 'clip', mapInfo: { n: 1 }, hover });

describe('linkedHover', () => {
  function setup(getItem) {
    let changes = 0;
    const linked = linkedHover(itemCache(getItem), 'b').onChange(() => { changes += 1; });
    return { linked, changes: () => changes };
  }
  const item = (id) => ({ id, positions: { clip: [0.25, 0.75], other: [0.1, 0.1] } });

  it('places the item hovered on the other map at its position on this map', async () => {
    const { linked, changes } = setup(async (d, id) => item(id));
    linked.update(state({ id: 'x', slot: 'a' }));
    expect(linked.position()).toBeNull();
    await settle();
    expect(linked.position()).toEqual({ x: 0.25, y: 0.75 });
    expect(changes()).toBe(2);
  });

  it('ignores a hover on this map, and no hover', async () => {
    const { linked } = setup(async (d, id) => item(id));
    linked.update(state({ id: 'x', slot: 'b' }));
    await settle();
    expect(linked.position()).toBeNull();
    linked.update(state(null));
    await settle();
    expect(linked.position()).toBeNull();
  });

  it('answers from the cache at once, and drops an answer overtaken by a newer hover', async () => {
    const answers = {};
    const getItem = (d, id) => new Promise((resolve) => { answers[id] = () => resolve(item(id)); });
    const { linked } = setup(getItem);
    linked.update(state({ id: 'slow', slot: 'a' }));
    linked.update(state(null));
    answers.slow();
    await settle();
    expect(linked.position()).toBeNull();
    linked.update(state({ id: 'slow', slot: 'a' })); // now cached
    expect(linked.position()).toEqual({ x: 0.25, y: 0.75 });
  });

  it('shows nothing when the item has no position on this map or cannot be fetched', async () => {
    const { linked } = setup(async (d, id) => { if (id === 'gone') throw new Error('HTTP 404'); return { id, positions: {} }; });
    linked.update(state({ id: 'nopos', slot: 'a' }));
    await settle();
    expect(linked.position()).toBeNull();
    linked.update(state({ id: 'gone', slot: 'a' }));
    await settle();
    expect(linked.position()).toBeNull();
  });
});
