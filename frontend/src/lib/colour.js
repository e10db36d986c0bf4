// Colour scales for metric values: sequential, or diverging centred at 0 for difference metrics.
// The domain comes from the map manifest and never changes with zoom.
import { interpolateViridis, interpolateRdBu } from 'd3';
import { rgb } from 'd3';

const DEFAULT_BANDS = { sequential: 10, diverging: 11 };
const LUT_SIZE = 256;

/**
 * Build the colour scale of one map.
 * @param {{colour_domain: number[], diverging?: boolean}} info the map manifest (or its two fields)
 * @param {{bands?: number}} [options] number of contour bands (≥ 2)
 */
export function makeColourScale(info, options = {}) {
  if (!info || !Array.isArray(info.colour_domain) || info.colour_domain.length !== 2) {
    throw new TypeError('makeColourScale: info.colour_domain must be [lo, hi]');
  }
  let [lo, hi] = info.colour_domain.map(Number);
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || lo > hi) {
    throw new RangeError(`makeColourScale: colour_domain must be finite with lo ≤ hi, got [${info.colour_domain}]`);
  }
  const diverging = Boolean(info.diverging);
  if (diverging) {
    const m = Math.max(Math.abs(lo), Math.abs(hi));
    [lo, hi] = [-m, m];
  }
  if (hi - lo < 1e-12) {
    const pad = Math.max(Math.abs(lo) * 1e-6, 1e-6);
    [lo, hi] = [lo - pad, hi + pad];
  }
  const bands = options.bands ?? (diverging ? DEFAULT_BANDS.diverging : DEFAULT_BANDS.sequential);
  if (!Number.isInteger(bands) || bands < 2 || bands > 64) {
    throw new RangeError(`makeColourScale: bands must be an integer in 2..64, got ${bands}`);
  }
  // Diverging: red = negative, blue = positive; RdBu runs red → blue over [0, 1].
  const interpolator = diverging ? interpolateRdBu : interpolateViridis;
  const span = hi - lo;
  const unit = (v) => Math.min(1, Math.max(0, (v - lo) / span));
  const thresholds = Array.from({ length: bands - 1 }, (_, i) => lo + ((i + 1) * span) / bands);
  const bandColours = Array.from({ length: bands }, (_, i) => rgb(interpolator((i + 0.5) / bands)).formatHex());

  const lut = new Uint32Array(LUT_SIZE);
  const lutRgb = new Uint8Array(LUT_SIZE * 3);
  for (let i = 0; i < LUT_SIZE; i += 1) {
    const c = rgb(interpolator(i / (LUT_SIZE - 1)));
    lut[i] = packRGBA(c.r, c.g, c.b, 255);
    lutRgb.set([c.r, c.g, c.b], i * 3);
  }

  return {
    domain: [lo, hi],
    diverging,
    bands,
    thresholds,
    bandColours,
    interpolator,
    /** Position of v in the domain, clamped to [0, 1]. */
    unit,
    /** Continuous colour of v as a hex string (points, legend gradient). */
    colour: (v) => rgb(interpolator(unit(v))).formatHex(),
    /** Index of the contour band holding v (values outside the domain go to the end bands). */
    bandOf(v) {
      let i = 0;
      while (i < thresholds.length && v >= thresholds[i]) i += 1;
      return i;
    },
    /** Packed RGBA (little-endian ImageData order) of v, through a 256-entry table. */
    packed: (v) => lut[Math.round(unit(v) * (LUT_SIZE - 1))],
    lut,
    lutRgb,
  };
}

/** Pack r, g, b, a bytes into one Uint32 in the byte order of ImageData on little-endian machines. */
export function packRGBA(r, g, b, a = 255) {
  return ((a << 24) | (b << 16) | (g << 8) | r) >>> 0;
}
