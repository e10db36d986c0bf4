// Thumbnails on the map: from the zoom where blue-noise samples lie a thumbnail apart, the items of
// the sprite sheets in view (GET .../sprites/<z>/<x>/<y>) are drawn as framed images at their
// positions. Sheets nest like the overlay sample, so zooming in only adds images.
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

const css = (packed) => `rgb(${packed & 255},${(packed >>> 8) & 255},${(packed >>> 16) & 255})`;

/** Sheets of one map on `canvas`: `source({dataset, metric, models})`, `draw(frame)` → thumbnails drawn. */
export function spriteLayer(canvas, { fetchSheet }) {
  const ctx = canvas.getContext('2d');
  const sheets = new Map(); // key → {index, image} once loaded, or 'loading'
  let src = null;
  let changed = () => {};
  const layer = {};
  layer.onChange = (fn) => { changed = fn; return layer; };
  layer.source = (next) => { src = next; sheets.clear(); return layer; };
  layer.clear = () => { ctx.setTransform(1, 0, 0, 1, 0, 0); ctx.clearRect(0, 0, canvas.width, canvas.height); return layer; };

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

  /** frame: {t, vp, dpr, bbox, level, colour(value) → packed}. Returns the items drawn [{id, row}]. */
  layer.draw = ({ t, vp, dpr, bbox, level, colour }) => {
    layer.clear();
    const drawn = [];
    if (!src || level < 0) return drawn;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const [first, second] = src.models;
    for (const tile of sheetsFor(bbox, level)) {
      const a = want(tile, first);
      const b = second ? want(tile, second) : null;
      if (!a || (second && !b)) continue;
      a.index.rows.forEach((row, i) => {
        const [sx, sy] = mapToScreen(t, vp, a.index.x_pos[i], a.index.y_pos[i]);
        const [bx, by, w, h] = a.index.boxes[i];
        const f = THUMB_PX / Math.max(w, h);
        const dw = w * f; const dh = h * f;
        const value = a.index.values[i];
        ctx.fillStyle = css(colour(value === null ? NaN : value));
        ctx.fillRect(sx - dw / 2 - 3, sy - dh / 2 - 3, dw + 6, dh + 6);
        if (b) { // difference maps: generator A on the left half, B on the right
          const [cx, cy, cw, ch] = b.index.boxes[i];
          ctx.drawImage(a.image, bx, by, w / 2, h, sx - dw / 2, sy - dh / 2, dw / 2, dh);
          ctx.drawImage(b.image, cx + cw / 2, cy, cw / 2, ch, sx, sy - dh / 2, dw / 2, dh);
        } else {
          ctx.drawImage(a.image, bx, by, w, h, sx - dw / 2, sy - dh / 2, dw, dh);
        }
        drawn.push({ id: a.index.ids[i], row });
      });
    }
    return drawn;
  };
  return layer;
}
