// Spatial index over the drawn points, for hover and click hit-testing without a scan.
import { quadtree } from 'd3';

/**
 * Index point arrays (map coordinates). `find(x, y, radius)` returns the index of the nearest point
 * within radius, or -1.
 */
export function makePointIndex(xs, ys) {
  if (xs.length !== ys.length) throw new RangeError('makePointIndex: xs and ys must have the same length');
  const tree = quadtree()
    .x((i) => xs[i])
    .y((i) => ys[i]);
  const ids = new Array(xs.length);
  for (let i = 0; i < xs.length; i += 1) ids[i] = i;
  tree.addAll(ids);
  return {
    size: xs.length,
    find(x, y, radius) {
      const hit = tree.find(x, y, radius);
      return hit === undefined ? -1 : hit;
    },
  };
}
