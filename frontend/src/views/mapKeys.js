// Keyboard for the map: keys work wherever focus is, except in form fields or with a modifier held.

const FORM_FIELDS = new Set(['INPUT', 'SELECT', 'TEXTAREA']);

/** The action `actions` binds to a keydown event, or null (typing in a field, a modifier, an unbound key). */
export function keyAction(event, actions) {
  const tag = event.target && event.target.tagName;
  if (FORM_FIELDS.has(tag) || event.ctrlKey || event.metaKey || event.altKey) return null;
  return Object.hasOwn(actions, event.key) ? actions[event.key] : null;
}

/** The map's keys: +/− zoom, arrows pan by `step` pixels, 0 resets, L toggles the lasso, Escape ends it, I toggles thumbnails. */
export function mapKeyActions({ zoomBy, reset, panBy, toggleLasso, cancelLasso, toggleImages = () => {} }, step = 80) {
  return {
    '+': () => zoomBy(2), '=': () => zoomBy(2), '-': () => zoomBy(0.5), _: () => zoomBy(0.5), 0: reset,
    ArrowLeft: () => panBy(step, 0), ArrowRight: () => panBy(-step, 0),
    ArrowUp: () => panBy(0, step), ArrowDown: () => panBy(0, -step),
    l: toggleLasso, L: toggleLasso, Escape: cancelLasso, i: toggleImages, I: toggleImages,
  };
}

/**
 * Listen for keydown on `target`: `actions(map)` sets the bindings, `enabled(fn)` a condition
 * (e.g. a map is loaded); a bound key that runs has its default prevented.
 */
export function mapKeys(target) {
  let actions = {};
  let enabled = () => true;
  const keys = {};
  keys.actions = (next) => { actions = next; return keys; };
  keys.enabled = (fn) => { enabled = fn; return keys; };
  target.addEventListener('keydown', (event) => {
    const action = keyAction(event, actions);
    if (!action || !enabled()) return;
    event.preventDefault();
    action();
  });
  return keys;
}
