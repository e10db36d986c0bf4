import { describe, it, expect } from 'vitest';
import { onMap } from '../src/views/hoverTooltip.js';

describe('onMap', () => {
  it('is true inside the unit square, edges included, and false outside', () => {
    expect([onMap(0, 0), onMap(1, 1), onMap(0.5, 0.2)]).toEqual([true, true, true]);
    expect([onMap(-0.01, 0.5), onMap(0.5, 1.01), onMap(2, -1)]).toEqual([false, false, false]);
  });
});
