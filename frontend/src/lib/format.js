// Number formatting shared by the views.
import { format } from 'd3';

const sig3 = format('.3~g');
const grouped = format(',');

/** A metric value with 3 significant digits (en dash for missing). */
export function fmtValue(v) {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : sig3(v);
}

/** An integer count with thousands separators. */
export function fmtCount(n) {
  return Number.isFinite(n) ? grouped(n) : '–';
}
