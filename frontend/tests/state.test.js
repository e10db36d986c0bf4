import { describe, it, expect } from 'vitest';
import { createStore, initialState } from '../src/state.js';

describe('createStore', () => {
  it('merges patches and returns the changed keys', () => {
    const store = createStore({ a: 1, b: 2 });
    expect(store.set({ a: 1, b: 3 })).toEqual(['b']);
    expect(store.get()).toEqual({ a: 1, b: 3 });
  });

  it('keeps snapshots frozen so views cannot write past the store', () => {
    const store = createStore({ a: 1 });
    const snap = store.get();
    expect(Object.isFrozen(snap)).toBe(true);
    store.set({ a: 2 });
    expect(snap.a).toBe(1);
  });

  it('notifies only subscribers of changed keys, with the previous state', () => {
    const store = createStore({ a: 1, b: 1 });
    const seen = [];
    store.subscribe((s, prev, keys) => seen.push(['a', s.a, prev.a, keys]), ['a']);
    store.subscribe((s) => seen.push(['b', s.b]), ['b']);
    store.set({ a: 2 });
    store.set({ b: 5 });
    store.set({ b: 5 });
    expect(seen).toEqual([['a', 2, 1, ['a']], ['b', 5]]);
  });

  it('delivers a set made inside a subscriber after the current change, in order', () => {
    const store = createStore({ a: 0, b: 0 });
    const log = [];
    store.subscribe((s, prev) => { if (s.a !== prev.a) store.set({ b: s.a * 10 }); }, ['a']);
    store.subscribe((s, prev, keys) => log.push([keys.join(), s.a, s.b]));
    store.set({ a: 1 });
    expect(log).toEqual([['a', 1, 0], ['b', 1, 10]]);
    expect(store.get().b).toBe(10);
  });

  it('unsubscribes', () => {
    const store = createStore({ a: 0 });
    let calls = 0;
    const off = store.subscribe(() => { calls += 1; });
    store.set({ a: 1 });
    off();
    store.set({ a: 2 });
    expect(calls).toBe(1);
  });

  it('rejects a patch that is not an object', () => {
    const store = createStore({});
    expect(() => store.set(null)).toThrow(/patch/);
    expect(() => store.set([1])).toThrow(/patch/);
    expect(() => store.subscribe(3)).toThrow(/fn/);
  });

  it('declares the keys the views read', () => {
    const s = initialState();
    for (const key of ['dataset', 'metric', 'mapInfo', 'mode', 'sampling', 'filter', 'item', 'selection']) {
      expect(s).toHaveProperty(key);
    }
    expect(s.mode).toBe('overlay');
  });
});
