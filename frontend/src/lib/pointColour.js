// Point colours by a column other than the metric (`colour=` on the points routes): a continuous
// palette for numbers and times, a categorical one for categories, booleans and split. The legend
// info comes from the server and is the same for every view, so a point's colour never changes.
import { interpolatePlasma, schemeTableau10, rgb } from 'd3';
import { packRGBA } from './colour.js';

const LUT_SIZE = 256;
const MISSING = '#b9b9b9';

/** Hex colour of category index i (the palette repeats past 10 values). */
export function categoryColour(i) {
  return schemeTableau10[i % schemeTableau10.length];
}

/**
 * The colouring of a column from its legend info ({name, kind, domain} for number | time,
 * {name, kind: 'category', values} otherwise): `colour(v)` hex, `packed(v)` packed RGBA (NaN or
 * null is missing: grey), and `entries` for the legend ([{label, colour}] for categories,
 * [{t, colour}] stops for continuous palettes).
 */
export function makePointColour(info) {
  if (!info || typeof info.name !== 'string') throw new TypeError('makePointColour: info.name is required');
  const missingPacked = packHex(MISSING);
  if (info.kind === 'category') {
    const values = Array.isArray(info.values) ? info.values : [];
    const hexes = values.map((_, i) => categoryColour(i));
    const packed = hexes.map(packHex);
    const valid = (v) => v !== null && Number.isInteger(v) && v >= 0 && v < values.length;
    return {
      name: info.name,
      kind: 'category',
      colour: (v) => (valid(v) ? hexes[v] : MISSING),
      packed: (v) => (valid(v) ? packed[v] : missingPacked),
      entries: values.map((label, i) => ({ label: String(label), colour: hexes[i] })),
    };
  }
  if (info.kind !== 'number' && info.kind !== 'time') throw new RangeError(`makePointColour: unknown kind ${JSON.stringify(info.kind)}`);
  let [lo, hi] = Array.isArray(info.domain) ? info.domain.map(Number) : [0, 1];
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
  if (hi - lo < 1e-12) hi = lo + 1;
  const unit = (v) => Math.min(1, Math.max(0, (v - lo) / (hi - lo)));
  const lut = new Uint32Array(LUT_SIZE);
  for (let i = 0; i < LUT_SIZE; i += 1) lut[i] = packHex(interpolatePlasma(i / (LUT_SIZE - 1)));
  const ok = (v) => v !== null && Number.isFinite(v);
  return {
    name: info.name,
    kind: info.kind,
    domain: [lo, hi],
    colour: (v) => (ok(v) ? rgb(interpolatePlasma(unit(v))).formatHex() : MISSING),
    packed: (v) => (ok(v) ? lut[Math.round(unit(v) * (LUT_SIZE - 1))] : missingPacked),
    entries: Array.from({ length: 11 }, (_, i) => ({ t: i / 10, colour: rgb(interpolatePlasma(i / 10)).formatHex() })),
  };
}

function packHex(hex) {
  const c = rgb(hex);
  return packRGBA(c.r, c.g, c.b, 255);
}
