// A small least-recently-used cache for tiles, bitmaps and item details.

export class LRU {
  /**
   * @param {number} capacity maximum number of entries kept (≥ 1)
   * @param {{weight?: (value) => number, maxWeight?: number}} [bound] also keep the summed weight of
   *   the values at most maxWeight (the newest entry stays even when it alone weighs more)
   */
  constructor(capacity, { weight = null, maxWeight = Infinity } = {}) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`LRU capacity must be an integer ≥ 1, got ${capacity}`);
    }
    if (!(maxWeight > 0)) throw new RangeError(`LRU maxWeight must be > 0, got ${maxWeight}`);
    this.capacity = capacity;
    this.map = new Map();
    this.onEvict = null;
    this.weigh = weight;
    this.maxWeight = maxWeight;
    this.weight = 0;
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
    this.delete(key);
    this.map.set(key, value);
    if (this.weigh) this.weight += this.weigh(value);
    while (this.map.size > this.capacity || (this.weight > this.maxWeight && this.map.size > 1)) {
      const [oldKey, oldValue] = this.map.entries().next().value;
      this.delete(oldKey);
      if (this.onEvict) this.onEvict(oldKey, oldValue);
    }
    return this;
  }

  delete(key) {
    if (this.weigh && this.map.has(key)) this.weight -= this.weigh(this.map.get(key));
    return this.map.delete(key);
  }

  clear() {
    this.map.clear();
    this.weight = 0;
  }
}
