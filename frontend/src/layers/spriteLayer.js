// Thumbnails on the map: from the zoom where blue-noise samples lie a thumbnail apart, the items of
// the sprite sheets in view (GET .../sprites/<z>/<x>/<y>) are drawn as framed images at their
// positions, each framed in its item's metric colour on the map's scale. Sheets nest like the overlay
// sample, so zooming in only adds images. The hovered thumbnail is drawn enlarged, from its full image.
import { tilesCovering } from '../lib/tiles.js';
import { mapToScreen } from '../lib/viewport.js';

export const SHEET_DEPTH = 2; // dkmap.sprites.SHEET_DEPTH: sheet z holds blue-noise level z − 2
export const THUMB_PX = 48;   // drawn size (CSS px) of a thumbnail's longer side

/** The blue-noise level whose samples lie ≥ THUMB_PX apart on screen at zoom k, or −1 while none fit. */
export function thumbnailLevel(k, size, radius0, maxLevel) {
  const level = Math.floor(Math.log2((radius0 * k * size) / THUMB_PX) + 1e-9);
  return level < 0 ? -1 : Math.min(level, maxLevel);
}

/** The sheets (tiles of level `level` + SHEET_DEPTH) covering bbox. */
export function sheetsFor(bbox, level) {
  return level < 0 ? [] : tilesCovering(bbox, level + SHEET_DEPTH);
}

export const HOVER_PX = 160;  // drawn size of the hovered thumbnail's longer side (its full image once loaded)
export const FRAME_PX = 3;    // width of the frame in the item's metric colour
const MAX_FULL_IMAGES = 24;   // full-size images kept for hovered thumbnails

const css = (packed) => `rgb(${packed & 255},${(packed >>> 8) & 255},${(packed >>> 16) & 255})`;

/**
 * The thumbnail drawn at screen point (sx, sy) (CSS px), frame included, from `drawn` (what `draw`
 * returned): the enlarged one first, then the one drawn last (on top); null when none is there.
 */
export function thumbnailAt(drawn, sx, sy) {
  const inside = (d) => {
    const [x, y, w, h] = d.box;
    return sx >= x - FRAME_PX && sx <= x + w + FRAME_PX && sy >= y - FRAME_PX && sy <= y + h + FRAME_PX;
  };
  const enlarged = drawn.find((d) => d.enlarged);
  if (enlarged && inside(enlarged)) return enlarged;
  for (let i = drawn.length - 1; i >= 0; i -= 1) if (inside(drawn[i])) return drawn[i];
  return null;
}

/**
 * Sheets of one map on `canvas`: `source({dataset, metric, models})`, `draw(frame)` → thumbnails
 * drawn, `pending()` → sheets still loading. `imageUrl(dataset, id, model)` gives the full image
 * a hovered thumbnail is enlarged to.
 */
export function spriteLayer(canvas, { fetchSheet, imageUrl = null }) {
  const ctx = canvas.getContext('2d');
  const sheets = new Map(); // key → {index, image} once loaded, or 'loading'
  const full = new Map();   // model|id → Image once loaded, or 'loading' (insertion order: oldest first)
  let src = null;
  let changed = () => {};
  const layer = {};
  layer.onChange = (fn) => { changed = fn; return layer; };
  layer.source = (next) => { src = next; sheets.clear(); full.clear(); return layer; };
  layer.clear = () => { ctx.setTransform(1, 0, 0, 1, 0, 0); ctx.clearRect(0, 0, canvas.width, canvas.height); return layer; };
  layer.pending = () => [...sheets.values()].filter((v) => v === 'loading').length;

  function want(tile, model) {
    const key = `${model}|${tile.key}`;
    const have = sheets.get(key);
    if (have) return have === 'loading' ? null : have;
    sheets.set(key, 'loading');
    fetchSheet(src.dataset, src.metric, { ...tile, model }).then((index) => new Promise((resolve, reject) => {
      const image = new Image();
      image.onload = () => resolve({ index, image });
      image.onerror = () => reject(new Error(`sprite sheet ${tile.key} did not load`));
      image.src = index.image.replace(/^\//, '');
    })).then((sheet) => { sheets.set(key, sheet); changed(); }, () => sheets.delete(key));
    return null;
  }

  /** The full image of item `id` by `model` once loaded (null until then, or when it cannot load). */
  function fullImage(id, model) {
    if (!imageUrl) return null;
    const key = `${model}|${id}`;
    const have = full.get(key);
    if (have) return have === 'loading' ? null : have;
    full.set(key, 'loading');
    while (full.size > MAX_FULL_IMAGES) full.delete(full.keys().next().value);
    const image = new Image();
    const from = src;
    image.onload = () => { if (src === from) { full.set(key, image); changed(); } };
    image.onerror = () => {}; // stays 'loading': the sheet's cell (or placeholder) is shown enlarged
    image.src = imageUrl(src.dataset, id, model);
    return null;
  }

  // One source image into [x, y, w, h]: a sheet cell [bx, by, bw, bh], or a whole image (cell null).
  // `half`: 0 the whole width, 1 the left half, 2 the right half (difference maps split A | B).
  function put(image, cell, [x, y, w, h], half) {
    const [bx, by, bw, bh] = cell ?? [0, 0, image.naturalWidth, image.naturalHeight];
    const sw = half ? bw / 2 : bw;
    const sx = half === 2 ? bx + bw / 2 : bx;
    ctx.drawImage(image, sx, by, sw, bh, half === 2 ? x + w / 2 : x, y, half ? w / 2 : w, h);
  }

  /** Draw thumbnail `cell` ({a, b, i}: the sheets and the item's place in them) centred at (sx, sy), `px` on its longer side. */
  function paint(cell, sx, sy, px, colour, enlarged) {
    const { a, b, i } = cell;
    const [, , w, h] = a.index.boxes[i];
    const f = px / Math.max(w, h);
    const box = [sx - (w * f) / 2, sy - (h * f) / 2, w * f, h * f];
    const value = a.index.values[i];
    ctx.fillStyle = css(colour(value === null ? NaN : value));
    ctx.fillRect(box[0] - FRAME_PX, box[1] - FRAME_PX, box[2] + 2 * FRAME_PX, box[3] + 2 * FRAME_PX);
    const id = a.index.ids[i];
    const [first, second] = src.models;
    const fa = enlarged ? fullImage(id, first) : null;
    if (b) {
      const fb = enlarged ? fullImage(id, second) : null;
      put(fa ?? a.image, fa ? null : a.index.boxes[i], box, 1);
      put(fb ?? b.image, fb ? null : b.index.boxes[i], box, 2);
    } else {
      put(fa ?? a.image, fa ? null : a.index.boxes[i], box, 0);
    }
    return box;
  }

  /**
   * frame: {t, vp, dpr, bbox, level, colour(value) → packed, hovered (an item id or null)}. Returns
   * the items drawn [{id, row, x, y, value, box: [x, y, w, h] (CSS px, frame excluded), enlarged}],
   * in drawing order; the hovered one is drawn last, HOVER_PX on its longer side.
   */
  layer.draw = ({ t, vp, dpr, bbox, level, colour, hovered = null }) => {
    layer.clear();
    const drawn = [];
    if (!src || level < 0) return drawn;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const [first, second] = src.models;
    let top = null;
    for (const tile of sheetsFor(bbox, level)) {
      const a = want(tile, first);
      const b = second ? want(tile, second) : null;
      if (!a || (second && !b)) continue;
      a.index.rows.forEach((row, i) => {
        const x = a.index.x_pos[i]; const y = a.index.y_pos[i];
        const [sx, sy] = mapToScreen(t, vp, x, y);
        const entry = { id: a.index.ids[i], row, x, y, value: a.index.values[i], enlarged: false };
        entry.box = paint({ a, b, i }, sx, sy, THUMB_PX, colour, false);
        if (entry.id === hovered) top = { entry, cell: { a, b, i }, sx, sy };
        drawn.push(entry);
      });
    }
    if (top) {
      top.entry.box = paint(top.cell, top.sx, top.sy, HOVER_PX, colour, true);
      top.entry.enlarged = true;
      drawn.push(drawn.splice(drawn.indexOf(top.entry), 1)[0]);
    }
    return drawn;
  };
  return layer;
}
