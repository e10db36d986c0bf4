import { describe, it, expect } from 'vitest';
import { pointStore } from '../src/lib/pointStore.js';
import { tilesCovering } from '../src/lib/tiles.js';
import { LRU } from '../src/lib/lru.js';

// A points source with the endpoint's semantics (inclusive bbox, nested sampling levels, cap at limit),
// over a seeded set of items, so the store's tiling, splitting and stand-ins can be checked exactly.
function makeSource(n, seed = 1) {
  let s = seed;
  const rnd = () => { s = (s * 16807) % 2147483647; return s / 2147483647; };
  const items = Array.from({ length: n }, (_, i) => ({ row: i, x: rnd(), y: rnd(), level: Math.floor(rnd() * 4) }));
  items.push({ row: n, x: 0.5, y: 0.5, level: 0 }, { row: n + 1, x: 1, y: 1, level: 0 }); // on tile edges
  const calls = [];
  const fetchPoints = async (dataset, metric, { z, bbox, sampling, limit }) => {
    calls.push({ z, bbox, sampling });
    const [x0, y0, x1, y1] = bbox;
    let hit = items.filter((p) => p.x >= x0 && p.x <= x1 && p.y >= y0 && p.y <= y1 && (sampling === 'all' || p.level <= z));
    const total = hit.length;
    const capped = total > limit;
    if (capped) hit = hit.slice(0, 5); // the cap keeps a few, far fewer than limit: splitting must fetch the rest
    return { total_in_view: total, capped, points: {
      row: hit.map((p) => p.row), id: hit.map((p) => `i${p.row}`), x: hit.map((p) => p.x), y: hit.map((p) => p.y), value: hit.map(() => 1) } };
  };
  return { items, calls, fetchPoints };
}

const settle = () => new Promise((r) => setTimeout(r, 0));

async function load(store, needed, sampling, z) {
  for (let i = 0; i < 10; i += 1) {
    const { chunks, pending } = store.chunksFor(needed, sampling, z);
    if (pending === 0 && chunks.length) return chunks;
    await settle();
  }
  throw new Error('did not load');
}

describe('pointStore', () => {
  it('gathers every item exactly once over tiles, including items on tile edges', async () => {
    const src = makeSource(500);
    const store = pointStore({ fetchPoints: src.fetchPoints }).source({ dataset: 'd', metric: 'm' });
    const chunks = await load(store, tilesCovering([0, 0, 1, 1], 1), 'all', 1);
    const rows = chunks.flatMap((c) => [...c.row]);
    expect(rows.length).toBe(src.items.length);
    expect(new Set(rows).size).toBe(src.items.length);
  });

  it('all: a tile answered in full covers its finer tiles, so zooming in fetches nothing', async () => {
    const src = makeSource(500);
    const store = pointStore({ fetchPoints: src.fetchPoints }).source({ dataset: 'd', metric: 'm' });
    const whole = await load(store, tilesCovering([0, 0, 1, 1], 0), 'all', 0);
    expect(src.calls).toEqual([{ z: 0, bbox: [0, 0, 1, 1], sampling: 'all' }]);
    const deeper = store.chunksFor(tilesCovering([0.2, 0.2, 0.3, 0.3], 4), 'all', 4);
    expect(deeper).toEqual({ chunks: whole, pending: 0 });
    expect(src.calls.length).toBe(1);
  });

  it('all: a capped tile stands in while the finer tiles in view load, and those then hold every point', async () => {
    const src = makeSource(3000);
    const real = src.fetchPoints;
    const store = pointStore({ fetchPoints: (d, m, q, init) => real(d, m, { ...q, limit: 2000 }, init) })
      .source({ dataset: 'd', metric: 'm' });
    const [capped] = await load(store, tilesCovering([0, 0, 1, 1], 0), 'all', 0);
    expect(capped.capped).toBe(true);
    const needed = tilesCovering([0, 0, 0.5, 1], 1);
    expect(store.chunksFor(needed, 'all', 1).chunks).toEqual([capped]);
    const fine = await load(store, needed, 'all', 1);
    expect(fine.some((c) => c.capped)).toBe(false);
    const inLeft = src.items.filter((p) => p.x < 0.5).map((p) => p.row).sort((a, b) => a - b);
    expect(fine.flatMap((c) => [...c.row]).sort((a, b) => a - b)).toEqual(inLeft);
  });

  it('keeps at most its point budget cached', () => {
    const lru = new LRU(10, { weight: (v) => v.n, maxWeight: 5 });
    lru.set('a', { n: 3 }).set('b', { n: 2 });
    expect([lru.has('a'), lru.has('b'), lru.weight]).toEqual([true, true, 5]);
    lru.set('c', { n: 1 });
    expect([lru.has('a'), lru.has('c'), lru.weight]).toEqual([false, true, 3]);
    lru.set('d', { n: 9 }); // alone over the budget: kept, the rest evicted
    expect([lru.size, lru.weight]).toEqual([1, 9]);
  });

  it('overlay: shows the coarser sample while the finer one loads, and the finer one adds points', async () => {
    const src = makeSource(800);
    const store = pointStore({ fetchPoints: src.fetchPoints }).source({ dataset: 'd', metric: 'm' });
    const coarse = await load(store, tilesCovering([0, 0, 1, 1], 0), 'bluenoise', 0);
    const needed = tilesCovering([0, 0, 0.5, 0.5], 1);
    const first = store.chunksFor(needed, 'bluenoise', 1);
    expect(first.chunks).toEqual(coarse); // stand-in, nothing blank
    const fine = await load(store, needed, 'bluenoise', 1);
    const inBox = (c) => [...c.row].filter((_, i) => c.x[i] < 0.5 && c.y[i] < 0.5); // tile 1/0/0 is half-open
    const coarseRows = new Set(coarse.flatMap(inBox));
    const fineRows = new Set(fine.flatMap((c) => [...c.row]));
    for (const r of coarseRows) expect(fineRows.has(r)).toBe(true);
    expect(fineRows.size).toBeGreaterThan(coarseRows.size);
  });
});
