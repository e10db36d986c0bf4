import { describe, it, expect } from 'vitest';
import { fetchQueue } from '../src/lib/fetchQueue.js';

// A load whose answers the test releases by hand, so the order and overlap of fetches are exact.
function manualLoad() {
  const calls = [];
  const load = (job, signal) => new Promise((resolve, reject) => {
    calls.push({ key: job.key, resolve, reject, signal });
    signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })));
  });
  return { calls, load };
}
const settle = () => new Promise((r) => setTimeout(r, 0));
const jobs = (...keys) => keys.map((key) => ({ key }));

describe('fetchQueue', () => {
  it('runs at most maxInFlight fetches, in the order wanted, and starts the next as one ends', async () => {
    const { calls, load } = manualLoad();
    const loaded = [];
    const q = fetchQueue(load).maxInFlight(2).onLoad((key, value) => loaded.push([key, value]));
    q.want(jobs('a', 'b', 'c'));
    expect(calls.map((c) => c.key)).toEqual(['a', 'b']);
    expect(q.counts()).toEqual({ inFlight: 2, waiting: 1, failed: 0 });
    calls[1].resolve(20);
    await settle();
    expect(loaded).toEqual([['b', 20]]);
    expect(calls.map((c) => c.key)).toEqual(['a', 'b', 'c']);
    expect(q.counts()).toEqual({ inFlight: 2, waiting: 0, failed: 0 });
  });

  it('skips keys that are cached, loading or failed', async () => {
    const { calls, load } = manualLoad();
    const errors = [];
    const q = fetchQueue(load).skip((key) => key === 'cached').onError((err) => errors.push(err.message));
    q.want(jobs('x', 'cached'));
    calls[0].reject(new Error('HTTP 500'));
    await settle();
    expect(errors).toEqual(['HTTP 500']);
    expect(q.failed('x')).toBe(true);
    q.want(jobs('x', 'y', 'y', 'cached'));
    expect(calls.map((c) => c.key)).toEqual(['x', 'y']);
    expect(q.loading('y')).toBe(true);
  });

  it('an error in onLoad counts as a failed fetch', async () => {
    const { calls, load } = manualLoad();
    const errors = [];
    const q = fetchQueue(load).onLoad(() => { throw new Error('bad tile'); }).onError((err) => errors.push(err.message));
    q.want(jobs('t'));
    calls[0].resolve({});
    await settle();
    expect(errors).toEqual(['bad tile']);
    expect(q.counts().failed).toBe(1);
  });

  it('cancelUnless aborts the other fetches without reporting an error', async () => {
    const { calls, load } = manualLoad();
    const errors = [];
    let settled = 0;
    const q = fetchQueue(load).onError((err) => errors.push(err)).onSettle(() => { settled += 1; });
    q.want(jobs('keep', 'drop'));
    q.cancelUnless((key) => key === 'keep');
    expect(calls[1].signal.aborted).toBe(true);
    expect(calls[0].signal.aborted).toBe(false);
    expect(q.counts().inFlight).toBe(1);
    await settle();
    expect(errors).toEqual([]);
    expect(settled).toBe(1);
  });

  it('reset aborts everything and ignores answers of the old source', async () => {
    const { calls, load } = manualLoad();
    const loaded = [];
    const q = fetchQueue(load).maxInFlight(1).onLoad((key) => loaded.push(key));
    q.want(jobs('old', 'waiting'));
    q.reset();
    expect(calls[0].signal.aborted).toBe(true);
    expect(q.counts()).toEqual({ inFlight: 0, waiting: 0, failed: 0 });
    calls[0].resolve(1);
    await settle();
    expect(loaded).toEqual([]);
    expect(calls).toHaveLength(1);
  });

  it('fail marks a key so it is not fetched, until a reset', () => {
    const { calls, load } = manualLoad();
    const q = fetchQueue(load).fail('k', 'geometry failed');
    q.want(jobs('k'));
    expect(calls).toHaveLength(0);
    q.reset().want(jobs('k'));
    expect(calls.map((c) => c.key)).toEqual(['k']);
  });

  it('rejects a bad load or maxInFlight', () => {
    expect(() => fetchQueue(null)).toThrow(/load must be a function/);
    expect(() => fetchQueue(() => Promise.resolve()).maxInFlight(0)).toThrow('invalid maxInFlight: 0');
    expect(() => fetchQueue(() => Promise.resolve()).maxInFlight(1.5)).toThrow('invalid maxInFlight: 1.5');
  });
});
