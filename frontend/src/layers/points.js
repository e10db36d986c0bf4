// Points layer, canvas path: writes point stamps straight into an ImageData buffer, so a million
// points redraw in milliseconds on any canvas (no GPU needed); and what both paths share.
import { packRGBA } from '../lib/colour.js';
import { extentOf } from '../lib/spatial.js';

// A stamp's pixels lie within DISC_PAD of its radius, its ring's within RING_PAD (device px, from the
// centre pixel's centre); the WebGL point shader (pointGL.js) tests the same distances.
export const DISC_PAD = 0.25;
export const RING_PAD = 1.25;

/** Pixel offsets of a disc of radius r (device px) and of its one-pixel ring. */
export function stampOffsets(radius) {
  const disc = [];
  const ring = [];
  const R = Math.ceil(radius) + 1;
  for (let dy = -R; dy <= R; dy += 1) {
    for (let dx = -R; dx <= R; dx += 1) {
      const d = Math.hypot(dx, dy);
      if (d <= radius + DISC_PAD) disc.push(dx, dy);
      else if (d <= radius + RING_PAD) ring.push(dx, dy);
    }
  }
  return { disc, ring };
}

/**
 * Map coordinates → device pixels under zoom transform t: the pixel of map point (x, y) is
 * (floor(bx + a·x + 0.5), floor(by + a·y + 0.5)), for the canvas and WebGL paths alike.
 */
export function pixelTransform(t, vp, dpr) {
  return { a: t.k * vp.size * dpr, bx: (t.x + t.k * vp.ox) * dpr, by: (t.y + t.k * vp.oy) * dpr };
}

/** How many points of `chunks` have their pixel on a width × height canvas under `pt` (pixelTransform). */
export function countInCanvas(chunks, pt, width, height) {
  const { a, bx, by } = pt;
  let n = 0;
  for (const { x, y, n: m } of chunks) {
    for (let i = 0; i < m; i += 1) {
      const px = Math.floor(bx + a * x[i] + 0.5);
      const py = Math.floor(by + a * y[i] + 0.5);
      if (px >= 0 && py >= 0 && px < width && py < height) n += 1;
    }
  }
  return n;
}

export const RING_LIGHT = packRGBA(255, 255, 255, 255);
export const RING_DARK = packRGBA(20, 20, 20, 255);
export const DIMMED = packRGBA(185, 185, 185, 255);

/**
 * Packed colours of a chunk, computed once per chunk and colour function: of its `colour` column
 * when the function colours by one (`colour.byColumn`), else of its metric values.
 */
export function chunkColours(chunk, colour) {
  if (chunk.colourFn !== colour) {
    const out = new Uint32Array(chunk.n);
    const values = colour.byColumn ? chunk.colour : chunk.value;
    if (values) for (let i = 0; i < chunk.n; i += 1) out[i] = colour(values[i]);
    else out.fill(DIMMED);
    // Points failing the column filters are greyed, not hidden.
    if (chunk.passes) for (let i = 0; i < chunk.n; i += 1) if (!chunk.passes[i]) out[i] = DIMMED;
    chunk.colours = out;
    chunk.colourFn = colour;
  }
  return chunk.colours;
}

/**
 * Draw chunks into `pixels` (Uint32Array over a width × height ImageData) under zoom transform t.
 * style: {radius, ring (packed colour or null), colour(value) → packed (keep the same function
 * between frames: colours are cached per chunk), include(row) → bool | null, dimmed (packed colour
 * for excluded points, or null to skip them), drawnRows (an array: the rows drawn with their centre
 * in view are pushed onto it; omit it on large chunks)}. Returns how many were drawn with their centre in view.
 */
export function blitPoints(pixels, width, height, chunks, t, vp, dpr, style) {
  const { disc, ring } = stampOffsets(style.radius);
  const R = Math.ceil(style.radius) + 2;
  // Offsets as flat indices, for the fast path of points whose stamp lies wholly inside the canvas.
  const discIdx = new Int32Array(disc.length / 2);
  for (let s = 0; s < disc.length; s += 2) discIdx[s / 2] = disc[s + 1] * width + disc[s];
  const ringIdx = new Int32Array(ring.length / 2);
  for (let s = 0; s < ring.length; s += 2) ringIdx[s / 2] = ring[s + 1] * width + ring[s];
  const { a, bx, by } = pixelTransform(t, vp, dpr);
  const { include, dimmed } = style;
  const drawnRows = style.drawnRows ?? null;
  let drawn = 0;
  // A million points in view: one-pixel stamps, nothing ringed, dimmed or listed; the plain loop is
  // several times faster than the general one below.
  const onePixel = disc.length === 2 && style.ring === null && (include === null || include === undefined) && drawnRows === null;
  for (const chunk of chunks) {
    const { x, y, row, n } = chunk;
    const colours = chunkColours(chunk, style.colour);
    if (onePixel) {
      for (let i = 0; i < n; i += 1) {
        const px = Math.floor(bx + a * x[i] + 0.5);
        const py = Math.floor(by + a * y[i] + 0.5);
        if (px >= 0 && py >= 0 && px < width && py < height) { pixels[py * width + px] = colours[i]; drawn += 1; }
      }
      continue;
    }
    for (let i = 0; i < n; i += 1) {
      const px = Math.floor(bx + a * x[i] + 0.5);
      const py = Math.floor(by + a * y[i] + 0.5);
      if (px < -R || py < -R || px >= width + R || py >= height + R) continue;
      let colour = colours[i];
      let ringColour = style.ring;
      if (include !== null && include !== undefined && !include(row[i])) {
        if (dimmed === null) continue;
        colour = dimmed; ringColour = null;
      }
      if (px >= R && py >= R && px < width - R && py < height - R) {
        const base = py * width + px;
        if (ringColour !== null) for (let s = 0; s < ringIdx.length; s += 1) pixels[base + ringIdx[s]] = ringColour;
        for (let s = 0; s < discIdx.length; s += 1) pixels[base + discIdx[s]] = colour;
        drawn += 1;
        if (drawnRows !== null) drawnRows.push(row[i]);
        continue;
      }
      if (ringColour !== null) {
        for (let s = 0; s < ring.length; s += 2) {
          const xx = px + ring[s]; const yy = py + ring[s + 1];
          if (xx >= 0 && yy >= 0 && xx < width && yy < height) pixels[yy * width + xx] = ringColour;
        }
      }
      for (let s = 0; s < disc.length; s += 2) {
        const xx = px + disc[s]; const yy = py + disc[s + 1];
        if (xx >= 0 && yy >= 0 && xx < width && yy < height) pixels[yy * width + xx] = colour;
      }
      if (px >= 0 && py >= 0 && px < width && py < height) {
        drawn += 1;
        if (drawnRows !== null) drawnRows.push(row[i]);
      }
    }
  }
  return drawn;
}

/** Point radius (device px) for how many points are in view: small when crowded, larger when sparse. */
export function pointRadius(nInView, dpr, overlay) {
  const crowded = nInView > 200000 ? 0.5 : nInView > 50000 ? 1 : nInView > 5000 ? 1.5 : 2.5;
  return (overlay && nInView <= 20000 ? 2.5 : crowded) * dpr;
}

/** Overlay points get a light ring to stand out from the bands, unless they are too many to ring. */
export function wantsRing(nInView, overlay) {
  return overlay && nInView <= 20000;
}

const GRID = 64;

/** A GRID × GRID histogram of the chunk's points over their extent, made once per chunk. */
function chunkGrid(chunk) {
  if (chunk.grid) return chunk.grid;
  const { x, y, n } = chunk;
  const [x0, y0, x1, y1] = extentOf(x, y, n);
  const sx = GRID / Math.max(x1 - x0, 1e-12); const sy = GRID / Math.max(y1 - y0, 1e-12);
  const counts = new Int32Array(GRID * GRID);
  for (let i = 0; i < n; i += 1) {
    const cx = Math.min(GRID - 1, Math.floor((x[i] - x0) * sx));
    const cy = Math.min(GRID - 1, Math.floor((y[i] - y0) * sy));
    counts[cy * GRID + cx] += 1;
  }
  chunk.grid = { x0, y0, x1, y1, sx, sy, counts };
  return chunk.grid;
}

/**
 * About how many points of `chunks` lie in bbox [x0, y0, x1, y1]: exact for a chunk wholly inside or
 * outside it, else the grid cells meeting the box counted whole. A chunk may reach far past the view
 * (scatter mode draws a zoomed-in view from the whole map's points), so its size says little.
 */
export function pointsInBox(chunks, bbox) {
  const [bx0, by0, bx1, by1] = bbox;
  let total = 0;
  for (const chunk of chunks) {
    if (chunk.n === 0) continue;
    const g = chunkGrid(chunk);
    if (g.x1 < bx0 || g.y1 < by0 || g.x0 > bx1 || g.y0 > by1) continue;
    if (g.x0 >= bx0 && g.y0 >= by0 && g.x1 <= bx1 && g.y1 <= by1) { total += chunk.n; continue; }
    const c0 = Math.max(0, Math.floor((bx0 - g.x0) * g.sx)); const c1 = Math.min(GRID - 1, Math.floor((bx1 - g.x0) * g.sx));
    const r0 = Math.max(0, Math.floor((by0 - g.y0) * g.sy)); const r1 = Math.min(GRID - 1, Math.floor((by1 - g.y0) * g.sy));
    for (let r = r0; r <= r1; r += 1) for (let c = c0; c <= c1; c += 1) total += g.counts[r * GRID + c];
  }
  return total;
}
