// Linked hover: the item hovered on the other map, found at its position on this map.

/**
 * For map `slot`, with an item cache (`get`/`load`): `update(s)` follows `s.hover`; `position()`
 * is {x, y} of the item hovered on another map, or null; `onChange(fn)` is called when it changes.
 */
export function linkedHover(items, slot) {
  let position = null;
  let token = 0;
  let changed = () => {};
  const linked = {};

  linked.onChange = (fn) => { changed = fn; return linked; };
  linked.position = () => position;
  linked.update = async (s) => {
    const my = ++token;
    position = null;
    changed();
    if (!s.hover || s.hover.slot === slot || !s.mapInfo) return;
    let item = items.get(s.dataset, s.hover.id);
    if (!item) {
      try { item = await items.load(s.dataset, s.hover.id); } catch { return; }
    }
    const p = item.positions?.[s.metric];
    if (my === token && p) { position = { x: p[0], y: p[1] }; changed(); }
  };
  return linked;
}
