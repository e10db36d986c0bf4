// The map tooltip: what is under the cursor (an item's prompt and value, or the contour estimate).
import { fmtValue } from '../lib/format.js';

export function escapeHtml(s) {
  return String(s).replace(/[&<>"]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' }[ch]));
}

/** HTML for an item: its prompt (or a loading note) and its metric value with the unit. */
export function itemHtml(prompt, metric, value, unit) {
  const p = prompt === null ? '<span class="muted">loading prompt…</span>' : escapeHtml(prompt);
  const u = unit ? ` ${escapeHtml(unit)}` : '';
  return `<div class="tt-prompt">${p}</div><div class="tt-value">${escapeHtml(metric)} = <b>${fmtValue(value)}</b>${u}</div>`;
}

/** HTML for a place on the map without an item: the estimate there, or that it is masked. */
export function estimateHtml(metric, value, unit) {
  if (Number.isNaN(value)) return '<div class="tt-value">masked: no items nearby</div>';
  const u = unit ? ` ${escapeHtml(unit)}` : '';
  return `<div class="tt-value">estimate ${escapeHtml(metric)} ≈ <b>${fmtValue(value)}</b>${u}</div>`;
}

/** A tooltip element inside `stage` (a d3 selection); show(sx, sy, html, width) keeps it inside the view. */
export function makeTooltip(stage) {
  const el = stage.append('div').attr('class', 'tooltip').style('display', 'none');
  return {
    show(sx, sy, html, width) {
      el.style('display', null).html(html);
      const w = el.node().offsetWidth;
      const left = sx + 14 + w > width ? sx - 14 - w : sx + 14;
      el.style('left', `${left}px`).style('top', `${Math.max(4, sy - 10)}px`);
    },
    hide() { el.style('display', 'none'); },
  };
}
