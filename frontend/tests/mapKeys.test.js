import { describe, it, expect } from 'vitest';
import { keyAction, mapKeyActions, mapKeys } from '../src/views/mapKeys.js';

const key = (k, extra = {}) => ({ key: k, target: { tagName: 'DIV' }, ...extra });

describe('keyAction', () => {
  const actions = { l: () => 'lasso' };
  it('finds the bound action', () => {
    expect(keyAction(key('l'), actions)()).toBe('lasso');
    expect(keyAction(key('x'), actions)).toBeNull();
    expect(keyAction(key('toString'), actions)).toBeNull();
  });
  it('ignores keys typed in form fields or with a modifier', () => {
    for (const tagName of ['INPUT', 'SELECT', 'TEXTAREA']) expect(keyAction(key('l', { target: { tagName } }), actions)).toBeNull();
    for (const mod of ['ctrlKey', 'metaKey', 'altKey']) expect(keyAction(key('l', { [mod]: true }), actions)).toBeNull();
  });
});

describe('mapKeyActions', () => {
  it('binds zoom, pan, reset and lasso keys', () => {
    const log = [];
    const actions = mapKeyActions({
      zoomBy: (f) => log.push(['zoom', f]), reset: () => log.push(['reset']), panBy: (dx, dy) => log.push(['pan', dx, dy]),
      toggleLasso: () => log.push(['lasso']), cancelLasso: () => log.push(['cancel']),
    });
    for (const k of ['+', '=', '-', '_', '0', 'ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'l', 'L', 'Escape']) actions[k]();
    expect(log).toEqual([['zoom', 2], ['zoom', 2], ['zoom', 0.5], ['zoom', 0.5], ['reset'],
      ['pan', 80, 0], ['pan', -80, 0], ['pan', 0, 80], ['pan', 0, -80], ['lasso'], ['lasso'], ['cancel']]);
  });
});

describe('mapKeys', () => {
  function target() {
    const listeners = {};
    return { listeners, addEventListener: (type, fn) => { listeners[type] = fn; } };
  }
  const event = (k) => ({ ...key(k), prevented: false, preventDefault() { this.prevented = true; } });

  it('runs a bound key and prevents its default, only while enabled', () => {
    const t = target();
    let runs = 0;
    let on = false;
    mapKeys(t).actions({ l: () => { runs += 1; } }).enabled(() => on);
    const off = event('l');
    t.listeners.keydown(off);
    expect([runs, off.prevented]).toEqual([0, false]);
    on = true;
    const hit = event('l');
    t.listeners.keydown(hit);
    expect([runs, hit.prevented]).toEqual([1, true]);
    const other = event('q');
    t.listeners.keydown(other);
    expect(other.prevented).toBe(false);
  });
});
