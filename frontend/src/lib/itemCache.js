// Item details (prompt, positions on every map) fetched once and kept for hover and linked hover.
import { LRU } from './lru.js';

/**
 * A cache over `getItem(dataset, id) → Promise<item>`: `get(dataset, id)` is the kept item or
 * undefined; `load(dataset, id)` fetches it, keeps it and resolves to it.
 */
export function itemCache(getItem, capacity = 500) {
  if (typeof getItem !== 'function') throw new TypeError('itemCache(getItem): getItem must be a function');
  const items = new LRU(capacity);
  const key = (dataset, id) => `${dataset}|${id}`;
  return {
    get: (dataset, id) => items.get(key(dataset, id)),
    load: (dataset, id) => getItem(dataset, id).then((item) => {
      items.set(key(dataset, id), item);
      return item;
    }),
  };
}
