import { describe, it, expect } from 'vitest';
import { createStore, initialState, mapStore, metricOf, SLOTS } from '../src/state.js';

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

describe('mapStore', () => {
  const app = () => createStore({ ...initialState(), metric: 'clip', metricB: 'hps', mapInfo: { n: 1 }, mapInfoB: { n: 2 } });

  it("shows each map its own keys under the plain names and hides the other map's", () => {
    const store = app();
    const a = mapStore(store, 'a').get();
    const b = mapStore(store, 'b').get();
    expect([a.metric, a.mapInfo]).toEqual(['clip', { n: 1 }]);
    expect([b.metric, b.mapInfo]).toEqual(['hps', { n: 2 }]);
    expect(b).not.toHaveProperty('metricB');
    expect(a).not.toHaveProperty('drawnB');
    expect(b.mode).toBe('overlay'); // shared keys pass through
    expect(Object.isFrozen(b)).toBe(true);
  });

  it('writes its own keys to the app keys of its slot and shared keys as they are', () => {
    const store = app();
    const b = mapStore(store, 'b');
    expect(b.set({ drawn: { points: 3 }, hover: { id: 'x', slot: 'b' } })).toEqual(['drawn', 'hover']);
    expect(store.get().drawnB).toEqual({ points: 3 });
    expect(store.get().drawn).toEqual({});
    expect(store.get().hover).toEqual({ id: 'x', slot: 'b' });
    expect(() => b.set(null)).toThrow(/patch/);
  });

  it("notifies on its own keys only, with views of both states and the keys' plain names", () => {
    const store = app();
    const seen = [];
    mapStore(store, 'b').subscribe((s, prev, keys) => seen.push([s.mapInfo, prev.mapInfo, keys]), ['mapInfo', 'mode']);
    store.set({ mapInfo: { n: 9 } });
    store.set({ mapInfoB: { n: 8 } });
    store.set({ mode: 'contour' });
    expect(seen).toEqual([[{ n: 8 }, { n: 2 }, ['mapInfo']], [{ n: 8 }, { n: 8 }, ['mode']]]);
  });

  it('gives the same view for the same state, so views can be compared by identity', () => {
    const store = app();
    const a = mapStore(store, 'a');
    expect(a.get()).toBe(a.get());
    const before = a.get();
    store.set({ mode: 'scatter' });
    expect(a.get()).not.toBe(before);
  });

  it('names the valid slots when given another', () => {
    expect(SLOTS).toEqual(['a', 'b']);
    expect(() => mapStore(app(), 'c')).toThrow('invalid map slot "c"; valid: a, b');
  });

  it('metricOf reads the metric of a slot', () => {
    const s = app().get();
    expect(metricOf(s, 'a')).toBe('clip');
    expect(metricOf(s, 'b')).toBe('hps');
  });
});
