// The placed points: a short list of new pairs put on the maps, each with the answer of every map
// it was placed on (by metric). Pure functions over the list kept in the store (`placed`).

export const MAX_PLACED = 10;

/** The list with `entry` ({id, label, results: {metric: answer}, image}) first, at most MAX_PLACED. */
export function addPlaced(list, entry) {
  if (!entry || !entry.id || !entry.results) throw new Error('addPlaced: entry needs an id and results');
  return [entry, ...list.filter((p) => p.id !== entry.id)].slice(0, MAX_PLACED);
}

/** The list without the entry `id`. */
export function removePlaced(list, id) {
  return list.filter((p) => p.id !== id);
}

/** Markers of the points placed on the map of `metric`: [{id, label, x, y, active}]. */
export function markersFor(list, metric, activeId = null) {
  return list.filter((p) => p.results[metric]).map((p) => {
    const [x, y] = p.results[metric].position;
    return { id: p.id, label: p.label, x, y, active: p.id === activeId };
  });
}

/** A short label for what was placed: the prompt's start, else the image name, else "features". */
export function placedLabel({ prompt, image, features }) {
  if (prompt) return prompt.length > 40 ? `${prompt.slice(0, 39)}…` : prompt;
  if (image) return image.name || 'image';
  return features ? `features (${Object.keys(features).join(', ')})` : 'placed';
}
