// Map ↔ screen geometry: the unit square fitted into the view, then the d3-zoom transform.

/** Base placement of the unit square in a width × height view (CSS pixels), with a margin. */
export function makeViewport(width, height, margin = 16) {
  if (!(width > 0) || !(height > 0)) throw new RangeError(`makeViewport: size must be positive, got ${width}×${height}`);
  const size = Math.max(1, Math.min(width, height) - 2 * margin);
  return { width, height, size, ox: (width - size) / 2, oy: (height - size) / 2 };
}

/** Screen position of map point (x, y) under zoom transform t = {k, x, y}. */
export function mapToScreen(t, vp, x, y) {
  return [t.x + t.k * (vp.ox + x * vp.size), t.y + t.k * (vp.oy + y * vp.size)];
}

/** Map position of screen point (sx, sy). */
export function screenToMap(t, vp, sx, sy) {
  return [((sx - t.x) / t.k - vp.ox) / vp.size, ((sy - t.y) / t.k - vp.oy) / vp.size];
}

/** Visible part of the unit square, [x0, y0, x1, y1], or null when none of it is in view. */
export function visibleBBox(t, vp) {
  const [x0, y0] = screenToMap(t, vp, 0, 0);
  const [x1, y1] = screenToMap(t, vp, vp.width, vp.height);
  const box = [Math.max(0, x0), Math.max(0, y0), Math.min(1, x1), Math.min(1, y1)];
  return box[0] < box[2] && box[1] < box[3] ? box : null;
}

/** Zoom transform that centres map point (x, y) at scale k. */
export function centreOn(vp, x, y, k) {
  return { k, x: vp.width / 2 - k * (vp.ox + x * vp.size), y: vp.height / 2 - k * (vp.oy + y * vp.size) };
}
