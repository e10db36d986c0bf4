import { describe, it, expect } from 'vitest';
import { nextFrame } from '../src/lib/frame.js';

describe('nextFrame', () => {
  it('runs the work once per frame however often it is asked for, and again when asked after', () => {
    const frames = [];
    let runs = 0;
    const schedule = nextFrame(() => { runs += 1; }, (cb) => frames.push(cb));
    schedule(); schedule(); schedule();
    expect(frames).toHaveLength(1);
    frames.shift()();
    expect(runs).toBe(1);
    schedule();
    expect(frames).toHaveLength(1);
    frames.shift()();
    expect(runs).toBe(2);
  });

  it('can be asked for again from inside the work (the next frame)', () => {
    const frames = [];
    let runs = 0;
    const schedule = nextFrame(() => { runs += 1; if (runs < 3) schedule(); }, (cb) => frames.push(cb));
    schedule();
    while (frames.length) frames.shift()();
    expect(runs).toBe(3);
  });
});
