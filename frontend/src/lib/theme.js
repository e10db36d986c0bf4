// Light and dark theme: the choice is the `data-theme` attribute of the root element (style.css
// swaps its variables on it) and is remembered in localStorage.
export const THEMES = Object.freeze(['light', 'dark']);
export const THEME_KEY = 'dkmap.theme';

/** The theme kept in `storage`, or null when none (or storage cannot be read: private modes). */
export function storedTheme(storage) {
  try {
    const v = storage?.getItem(THEME_KEY);
    return THEMES.includes(v) ? v : null;
  } catch {
    return null;
  }
}

/** The theme to start with: the one a shared link names, else the remembered one, else the system's. */
export function chooseTheme({ wanted = null, stored = null, prefersDark = false } = {}) {
  if (THEMES.includes(wanted)) return wanted;
  if (THEMES.includes(stored)) return stored;
  return prefersDark ? 'dark' : 'light';
}

/** Show `theme` on `root` (the document element) and remember it in `storage`. */
export function applyTheme(root, storage, theme) {
  if (!THEMES.includes(theme)) throw new RangeError(`theme must be one of ${THEMES.join(', ')}, got ${JSON.stringify(theme)}`);
  root.dataset.theme = theme;
  try { storage?.setItem(THEME_KEY, theme); } catch { /* not remembered: the page still shows it */ }
}

/** The other theme (the toggle). */
export function otherTheme(theme) {
  return theme === 'dark' ? 'light' : 'dark';
}
