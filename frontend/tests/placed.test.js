import { describe, it, expect } from 'vitest';
import { addPlaced, removePlaced, markersFor, placedLabel, MAX_PLACED } from '../src/lib/placed.js';

const entry = (id, metrics = { m: [0.1, 0.2] }) => ({
  id, label: id, results: Object.fromEntries(Object.entries(metrics).map(([m, p]) => [m, { position: p }])),
});

describe('placed list', () => {
  it('adds new points first and keeps at most MAX_PLACED', () => {
    let list = [];
    for (let i = 0; i < MAX_PLACED + 3; i += 1) list = addPlaced(list, entry(`p${i}`));
    expect(list).toHaveLength(MAX_PLACED);
    expect(list[0].id).toBe(`p${MAX_PLACED + 2}`);
    expect(addPlaced(list, entry('p5')).filter((p) => p.id === 'p5')).toHaveLength(1);
  });
  it('removes by id', () => {
    expect(removePlaced([entry('a'), entry('b')], 'a').map((p) => p.id)).toEqual(['b']);
  });
  it('refuses an entry without results', () => {
    expect(() => addPlaced([], { id: 'x' })).toThrow('results');
  });
});

describe('markersFor', () => {
  it('gives each point placed on this metric its position, marking the active one', () => {
    const list = [entry('a', { m: [0.1, 0.2], n: [0.5, 0.6] }), entry('b', { n: [0.3, 0.4] })];
    expect(markersFor(list, 'm', 'a')).toEqual([{ id: 'a', label: 'a', x: 0.1, y: 0.2, active: true }]);
    expect(markersFor(list, 'n', 'a').map((p) => [p.id, p.x, p.active])).toEqual([['a', 0.5, true], ['b', 0.3, false]]);
  });
});

describe('placedLabel', () => {
  it('prefers the prompt, shortened, then the image name, then the spaces', () => {
    expect(placedLabel({ prompt: 'a red star' })).toBe('a red star');
    expect(placedLabel({ prompt: 'x'.repeat(50) })).toHaveLength(40);
    expect(placedLabel({ image: { name: 'cat.png' } })).toBe('cat.png');
    expect(placedLabel({ features: { text: [1], image_a: [1] } })).toBe('features (text, image_a)');
  });
});
