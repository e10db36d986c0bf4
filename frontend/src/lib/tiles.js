// Tile addressing: which tiles of which level cover the viewport, and what to draw while they load.

/** Tile level for a zoom factor k: floor(log2 k), clamped to [0, maxLevel]. */
export function zoomLevel(k, maxLevel) {
  if (!Number.isFinite(k) || k <= 0) throw new RangeError(`zoomLevel: k must be a positive number, got ${k}`);
  if (!Number.isInteger(maxLevel) || maxLevel < 0) {
    throw new RangeError(`zoomLevel: maxLevel must be an integer ≥ 0, got ${maxLevel}`);
  }
  return Math.min(maxLevel, Math.max(0, Math.floor(Math.log2(k) + 1e-9)));
}

export function tileKey(z, x, y) {
  return `${z}/${x}/${y}`;
}

/** [x0, y0, x1, y1] of tile (z, x, y) in unit-square map coordinates. */
export function tileBounds(z, x, y) {
  const n = 2 ** z;
  return [x / n, y / n, (x + 1) / n, (y + 1) / n];
}

/** Tiles of level z intersecting bbox [x0, y0, x1, y1] (map coordinates), row by row. */
export function tilesCovering(bbox, z) {
  const [x0, y0, x1, y1] = bbox;
  const n = 2 ** z;
  const cx0 = Math.max(0, Math.floor(x0 * n));
  const cy0 = Math.max(0, Math.floor(y0 * n));
  const cx1 = Math.min(n - 1, Math.ceil(x1 * n) - 1);
  const cy1 = Math.min(n - 1, Math.ceil(y1 * n) - 1);
  const tiles = [];
  for (let y = cy0; y <= cy1; y += 1) {
    for (let x = cx0; x <= cx1; x += 1) tiles.push({ z, x, y, key: tileKey(z, x, y) });
  }
  return tiles;
}

export function parentOf(tile) {
  if (tile.z === 0) return null;
  const z = tile.z - 1;
  const x = Math.floor(tile.x / 2);
  const y = Math.floor(tile.y / 2);
  return { z, x, y, key: tileKey(z, x, y) };
}

export function childrenOf(tile) {
  const z = tile.z + 1;
  const out = [];
  for (let dy = 0; dy < 2; dy += 1) {
    for (let dx = 0; dx < 2; dx += 1) {
      const x = tile.x * 2 + dx;
      const y = tile.y * 2 + dy;
      out.push({ z, x, y, key: tileKey(z, x, y) });
    }
  }
  return out;
}

/**
 * What to draw for the needed tiles, given which tiles are ready.
 * A missing tile is covered by its nearest ready ancestor (cropped), or else by its ready children,
 * so the map never shows a gap while finer tiles load. Ops are ordered coarse to fine.
 * @returns {{source: object, target: object}[]} draw `source` clipped to `target`'s area
 */
export function drawPlan(needed, isReady) {
  const ops = [];
  for (const target of needed) {
    if (isReady(target.key)) {
      ops.push({ source: target, target });
      continue;
    }
    let ancestor = parentOf(target);
    while (ancestor && !isReady(ancestor.key)) ancestor = parentOf(ancestor);
    if (ancestor) {
      ops.push({ source: ancestor, target });
      continue;
    }
    for (const child of childrenOf(target)) {
      if (isReady(child.key)) ops.push({ source: child, target: child });
    }
  }
  ops.sort((a, b) => a.source.z - b.source.z);
  return ops;
}
