import { describe, it, expect } from 'vitest';
import { decodeShare, encodeShare, validFilter } from '../src/lib/shareState.js';

const full = {
  dataset: 'demo small', metric: 'clipscore_a', metricB: 'clipscore_b', mode: 'scatter', sampling: 'random',
  centre: { x: 0.25, y: 0.75, k: 4 }, lassoPolygon: [[0.1, 0.1], [0.3, 0.1], [0.2, 0.4]], lassoSlot: 'b',
  filter: [{ keyword: 'red & star', bin: 3 }, { keyword: 'cat', bin: 0 }], colourBy: 'split', rank: 'frequency', theme: 'dark',
  columnFilters: [{ column: 'guidance', range: [2, 7.5] }, { column: 'model', in: ['sdxl', null], other: true }, { column: 'prompt', contains: 'a cat' }],
};

describe('shareState', () => {
  it('round-trips every shared field', () => {
    const back = decodeShare(`#${encodeShare(full)}`);
    expect(back).toEqual(full);
  });

  it('leaves defaults out of the link and decodes an empty hash to nothing', () => {
    const hash = encodeShare({ dataset: 'd', metric: 'm', mode: 'overlay', sampling: 'bluenoise', rank: 'lift', filter: [], lassoPolygon: null });
    expect(hash).toBe('dataset=d&metric=m&mode=overlay');
    expect(decodeShare('')).toEqual({ filter: [], columnFilters: [] });
  });

  it('drops each garbled or unknown value on its own and keeps the rest', () => {
    const hash = 'dataset=d&metric=m&mode=spiral&sampling=nope&rank=best&theme=neon&lassoSlot=c'
      + '&view=0.5,abc,2&lasso=0.1,0.1;0.2&bars=%5B%5B%22ok%22%2C1%5D%2C%5B%22bad%22%2C-1%5D%2C7%5D'
      + '&filters=%5B%7B%22column%22%3A%22g%22%2C%22range%22%3A%5B3%2C1%5D%7D%2C%7B%22column%22%3A%22h%22%2C%22contains%22%3A%22x%22%7D%5D';
    expect(decodeShare(hash)).toEqual({
      dataset: 'd', metric: 'm', filter: [{ keyword: 'ok', bin: 1 }], columnFilters: [{ column: 'h', contains: 'x' }],
    });
    expect(decodeShare('view=0.5,0.5,100000&bars={&filters=[').centre).toBeUndefined();
    expect(decodeShare('bars={&filters=[')).toEqual({ filter: [], columnFilters: [] });
    expect(decodeShare('lasso=0,0;1,0;1,1&lassoSlot=b').lassoSlot).toBe('b');
    expect(decodeShare('lasso=0,0;1,0;1,x&lassoSlot=b')).toEqual({ filter: [], columnFilters: [] });
  });

  it('validates column filters against the API form', () => {
    expect(validFilter({ column: 'g', range: [1, 2] })).toEqual({ column: 'g', range: [1, 2] });
    expect(validFilter({ column: 'g', in: [true, null] })).toEqual({ column: 'g', in: [true, null], other: false });
    expect(validFilter({ column: 'g', range: [1, 2], contains: 'x' })).toBeNull();
    expect(validFilter({ column: '', contains: 'x' })).toBeNull();
    expect(validFilter({ column: 'g', in: [{}] })).toBeNull();
    expect(validFilter({ column: 'g', in: [], other: 'yes' })).toBeNull();
    expect(validFilter({ column: 'g', contains: '' })).toBeNull();
    expect(validFilter([1])).toBeNull();
  });
});
