// Points layer: writes point stamps straight into an ImageData buffer, so a million points
// redraw in milliseconds on any canvas (no GPU needed).
import { packRGBA } from '../lib/colour.js';

/** Pixel offsets of a disc of radius r (device px) and of its one-pixel ring. */
export function stampOffsets(radius) {
  const disc = [];
  const ring = [];
  const R = Math.ceil(radius) + 1;
  for (let dy = -R; dy <= R; dy += 1) {
    for (let dx = -R; dx <= R; dx += 1) {
      const d = Math.hypot(dx, dy);
      if (d <= radius + 0.25) disc.push(dx, dy);
      else if (d <= radius + 1.25) ring.push(dx, dy);
    }
  }
  return { disc, ring };
}

export const RING_LIGHT = packRGBA(255, 255, 255, 255);
export const RING_DARK = packRGBA(20, 20, 20, 255);
export const DIMMED = packRGBA(185, 185, 185, 255);

/**
 * Draw chunks into `pixels` (Uint32Array over a width × height ImageData) under zoom transform t.
 * style: {radius, ring (packed colour or null), colour(value) → packed, include(row) → bool | null,
 * dimmed (packed colour for excluded points, or null to skip them)}. Returns how many were drawn with their centre in view.
 */
export function blitPoints(pixels, width, height, chunks, t, vp, dpr, style) {
  const { disc, ring } = stampOffsets(style.radius);
  const a = t.k * vp.size * dpr;
  const bx = (t.x + t.k * vp.ox) * dpr;
  const by = (t.y + t.k * vp.oy) * dpr;
  const pad = Math.ceil(style.radius) + 2;
  let drawn = 0;
  const stamp = (px, py, colour, withRing) => {
    if (withRing) {
      for (let s = 0; s < ring.length; s += 2) {
        const xx = px + ring[s]; const yy = py + ring[s + 1];
        if (xx >= 0 && yy >= 0 && xx < width && yy < height) pixels[yy * width + xx] = withRing;
      }
    }
    for (let s = 0; s < disc.length; s += 2) {
      const xx = px + disc[s]; const yy = py + disc[s + 1];
      if (xx >= 0 && yy >= 0 && xx < width && yy < height) pixels[yy * width + xx] = colour;
    }
  };
  for (const chunk of chunks) {
    const { x, y, value, row, n } = chunk;
    for (let i = 0; i < n; i += 1) {
      const px = Math.round(bx + a * x[i]);
      const py = Math.round(by + a * y[i]);
      if (px < -pad || py < -pad || px >= width + pad || py >= height + pad) continue;
      let colour;
      let withRing = style.ring;
      if (style.include && !style.include(row[i])) {
        if (style.dimmed === null) continue;
        colour = style.dimmed; withRing = null;
      } else {
        colour = style.colour(value[i]);
      }
      stamp(px, py, colour, withRing);
      if (px >= 0 && py >= 0 && px < width && py < height) drawn += 1;
    }
  }
  return drawn;
}

/** Point radius (device px) for how many points are in view: small when crowded, larger when sparse. */
export function pointRadius(nInView, dpr, overlay) {
  const base = overlay ? 2.5 : nInView > 200000 ? 0.5 : nInView > 50000 ? 1 : nInView > 5000 ? 1.5 : 2.5;
  return base * dpr;
}
