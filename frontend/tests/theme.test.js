import { describe, it, expect } from 'vitest';
import { applyTheme, chooseTheme, otherTheme, storedTheme, THEME_KEY } from '../src/lib/theme.js';

function memoryStorage(initial = {}) {
  const data = { ...initial };
  return { data, getItem: (k) => (k in data ? data[k] : null), setItem: (k, v) => { data[k] = String(v); } };
}

describe('theme', () => {
  it('starts with the linked theme, else the remembered one, else the system preference', () => {
    expect(chooseTheme({ wanted: 'dark', stored: 'light' })).toBe('dark');
    expect(chooseTheme({ wanted: 'neon', stored: 'dark' })).toBe('dark');
    expect(chooseTheme({ prefersDark: true })).toBe('dark');
    expect(chooseTheme({})).toBe('light');
  });

  it('remembers what it shows, and reads back only known themes', () => {
    const storage = memoryStorage({ [THEME_KEY]: 'purple' });
    expect(storedTheme(storage)).toBeNull();
    const root = { dataset: {} };
    applyTheme(root, storage, 'dark');
    expect(root.dataset.theme).toBe('dark');
    expect(storage.data[THEME_KEY]).toBe('dark');
    expect(storedTheme(storage)).toBe('dark');
    expect(() => applyTheme(root, storage, 'sepia')).toThrow(RangeError);
    expect(otherTheme('dark')).toBe('light');
    expect(otherTheme('light')).toBe('dark');
  });

  it('still shows a theme when storage throws', () => {
    const broken = { getItem: () => { throw new Error('denied'); }, setItem: () => { throw new Error('denied'); } };
    const root = { dataset: {} };
    expect(storedTheme(broken)).toBeNull();
    applyTheme(root, broken, 'light');
    expect(root.dataset.theme).toBe('light');
  });
});
