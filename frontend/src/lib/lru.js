// A small least-recently-used cache for tiles, bitmaps and item details.

export class LRU {
  /** @param {number} capacity maximum number of entries kept (≥ 1) */
  constructor(capacity) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`LRU capacity must be an integer ≥ 1, got ${capacity}`);
    }
    this.capacity = capacity;
    this.map = new Map();
    this.onEvict = null;
  }

  get size() {
    return this.map.size;
  }

  has(key) {
    return this.map.has(key);
  }

  /** The value for key (marking it recently used), or undefined. */
  get(key) {
    if (!this.map.has(key)) return undefined;
    const value = this.map.get(key);
    this.map.delete(key);
    this.map.set(key, value);
    return value;
  }

  /** The value without touching recency. */
  peek(key) {
    return this.map.get(key);
  }

  set(key, value) {
    if (this.map.has(key)) this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.capacity) {
      const [oldKey, oldValue] = this.map.entries().next().value;
      this.map.delete(oldKey);
      if (this.onEvict) this.onEvict(oldKey, oldValue);
    }
    return this;
  }

  delete(key) {
    return this.map.delete(key);
  }

  clear() {
    this.map.clear();
  }
}
