// Points layer, WebGL path: each chunk's positions and colours live in GPU buffers, and a frame is
// one draw call per chunk under the frame's transform, so panning and zooming redraw every point
// each frame. Stamps are the canvas path's (points.js): the same pixel, disc and ring.
import { chunkColours, pixelTransform, countInCanvas, DISC_PAD, RING_PAD, DIMMED } from './points.js';

const MAX_CACHED_POINTS = 8_000_000; // GPU buffers kept for chunks not drawn in the last frame, at most

const VERTEX = `#version 300 es
in float x; in float y; in vec4 colour;
uniform vec2 origin; uniform float scale; uniform vec2 offset; uniform vec2 canvas; uniform float size;
out vec4 v;
void main() {
  // Relative to an origin near the view: float32 keeps sub-pixel positions at the deepest zoom.
  vec2 p = floor(offset + scale * (vec2(x, y) - origin) + 0.5) + 0.5;
  v = colour;
  gl_PointSize = size;
  gl_Position = colour.a == 0.0 ? vec4(2.0, 2.0, 2.0, 1.0) : vec4(2.0 * p.x / canvas.x - 1.0, 1.0 - 2.0 * p.y / canvas.y, 0.0, 1.0);
}`;

const FRAGMENT = `#version 300 es
precision highp float;
in vec4 v; uniform float radius; uniform float size; uniform vec4 ring;
out vec4 o;
void main() {
  float d = length((gl_PointCoord - 0.5) * size);
  if (d <= radius + ${DISC_PAD.toFixed(2)}) o = v;
  else if (ring.a > 0.0 && d <= radius + ${RING_PAD.toFixed(2)}) o = ring;
  else discard;
}`;

/** Side (device px, odd) of the point sprite holding a stamp of `radius`, with its ring or not. */
export function spriteSize(radius, ring) {
  return 2 * Math.floor(radius + (ring ? RING_PAD : DISC_PAD)) + 1;
}

/**
 * The uniforms placing map points under pixel transform `pt` (pixelTransform) on a canvas, relative
 * to `origin` (a float32 map point near the view), so the shader's float32 sums stay exact.
 */
export function placement(pt, origin) {
  const o = [Math.fround(origin[0]), Math.fround(origin[1])];
  return { origin: o, scale: pt.a, offset: [pt.bx + pt.a * o[0], pt.by + pt.a * o[1]] };
}

/** [r, g, b, a] in 0..1 of a packed colour (packRGBA order). */
export function unpackRGBA(c) {
  return [c & 255, (c >>> 8) & 255, (c >>> 16) & 255, c >>> 24].map((b) => b / 255);
}

/**
 * Colours of `chunk` for one frame: its colours by `colour`, with rows that `include` rejects
 * `dimmed` (a packed colour) or, when dimmed is 0, transparent (the shader skips them).
 */
export function frameColours(chunk, colour, include, dimmed) {
  const base = chunkColours(chunk, colour);
  if (!include) return base;
  const out = new Uint32Array(chunk.n);
  for (let i = 0; i < chunk.n; i += 1) out[i] = include(chunk.row[i]) ? base[i] : dimmed;
  return out;
}

function compile(gl, type, source) {
  const shader = gl.createShader(type);
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) throw new Error(`point shader: ${gl.getShaderInfoLog(shader)}`);
  return shader;
}

/**
 * Draw point frames on `canvas` through WebGL2 (`draw`, `resize`, `clear` as pointCanvas's layer).
 * Throws when the canvas gives no WebGL2 context.
 */
export function pointGL(canvas) {
  const gl = canvas.getContext('webgl2', { antialias: false, depth: false, stencil: false, alpha: true, premultipliedAlpha: true, preserveDrawingBuffer: true });
  if (!gl) throw new Error('pointGL: no WebGL2 context');
  let program = null;
  let loc = null;
  let cache = new Map(); // chunk → {vao, x, y, colour, colourKey, n, used}
  let frameNo = 0;

  function setup() {
    program = gl.createProgram();
    gl.attachShader(program, compile(gl, gl.VERTEX_SHADER, VERTEX));
    gl.attachShader(program, compile(gl, gl.FRAGMENT_SHADER, FRAGMENT));
    gl.linkProgram(program);
    if (!gl.getProgramParameter(program, gl.LINK_STATUS)) throw new Error(`point shader: ${gl.getProgramInfoLog(program)}`);
    loc = { x: gl.getAttribLocation(program, 'x'), y: gl.getAttribLocation(program, 'y'), colour: gl.getAttribLocation(program, 'colour') };
    for (const name of ['origin', 'scale', 'offset', 'canvas', 'size', 'radius', 'ring']) loc[name] = gl.getUniformLocation(program, name);
    cache = new Map();
  }
  setup();
  canvas.addEventListener('webglcontextlost', (event) => event.preventDefault());
  canvas.addEventListener('webglcontextrestored', setup);

  function attribute(index, data, size, type, normalised) {
    const buffer = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
    gl.bufferData(gl.ARRAY_BUFFER, data, gl.STATIC_DRAW);
    gl.enableVertexAttribArray(index);
    gl.vertexAttribPointer(index, size, type, normalised, 0, 0);
    return buffer;
  }

  /** The chunk's buffers, its colour buffer holding `colours` (uploaded again only when `key` changes). */
  function buffersOf(chunk, key, colours) {
    let entry = cache.get(chunk);
    if (!entry) {
      const vao = gl.createVertexArray();
      gl.bindVertexArray(vao);
      entry = { vao, n: chunk.n, x: attribute(loc.x, chunk.x, 1, gl.FLOAT, false), y: attribute(loc.y, chunk.y, 1, gl.FLOAT, false),
        colour: attribute(loc.colour, new Uint8Array(4 * chunk.n), 4, gl.UNSIGNED_BYTE, true), colourKey: null };
      cache.set(chunk, entry);
    }
    if (!sameKey(entry.colourKey, key)) {
      const c = colours();
      gl.bindBuffer(gl.ARRAY_BUFFER, entry.colour);
      gl.bufferData(gl.ARRAY_BUFFER, new Uint8Array(c.buffer, c.byteOffset, c.byteLength), gl.STATIC_DRAW);
      entry.colourKey = key;
    }
    entry.used = frameNo;
    return entry;
  }
  const sameKey = (a, b) => Boolean(a) && a.length === b.length && a.every((v, i) => v === b[i]);

  function evict() {
    let kept = 0;
    for (const e of cache.values()) kept += e.used === frameNo ? 0 : e.n;
    if (kept <= MAX_CACHED_POINTS) return;
    for (const [chunk, e] of [...cache].sort((p, q) => p[1].used - q[1].used)) {
      if (kept <= MAX_CACHED_POINTS || e.used === frameNo) break;
      gl.deleteBuffer(e.x); gl.deleteBuffer(e.y); gl.deleteBuffer(e.colour); gl.deleteVertexArray(e.vao);
      cache.delete(chunk);
      kept -= e.n;
    }
  }

  function pass(chunks, keyOf, coloursOf, { radius, ring }) {
    const size = spriteSize(radius, ring !== null);
    gl.uniform1f(loc.size, size);
    gl.uniform1f(loc.radius, radius);
    gl.uniform4fv(loc.ring, ring === null ? [0, 0, 0, 0] : unpackRGBA(ring));
    for (const chunk of chunks) {
      if (chunk.n === 0) continue;
      const entry = buffersOf(chunk, keyOf(chunk), () => coloursOf(chunk));
      gl.bindVertexArray(entry.vao);
      gl.drawArrays(gl.POINTS, 0, chunk.n);
    }
  }

  const layer = { name: 'webgl' };
  layer.resize = () => layer;
  layer.clear = () => { gl.clearColor(0, 0, 0, 0); gl.clear(gl.COLOR_BUFFER_BIT); return layer; };

  /**
   * Paint one frame: `main` {radius, ring} for the chunks (rows that `include` rejects dimmed), and
   * `hl` {radius, ring} for the highlight chunk's included rows. Returns pointCanvas's draw answer.
   */
  layer.paint = (frame, main, hl, include) => {
    const { chunks, highlightChunk, highlightRows, t, vp, dpr, colour } = frame;
    frameNo += 1;
    if (gl.isContextLost()) return { drawnPoints: 0, drawnHighlights: 0, highlightedRows: [] };
    gl.viewport(0, 0, canvas.width, canvas.height); // every frame: a restored context starts without one
    layer.clear();
    gl.disable(gl.BLEND);
    gl.useProgram(program);
    const pt = pixelTransform(t, vp, dpr);
    // The map point at the canvas's top left, as the shader's origin.
    const u = placement(pt, [-pt.bx / pt.a, -pt.by / pt.a]);
    gl.uniform2fv(loc.origin, u.origin);
    gl.uniform1f(loc.scale, u.scale);
    gl.uniform2fv(loc.offset, u.offset);
    gl.uniform2f(loc.canvas, canvas.width, canvas.height);
    pass(chunks, () => [colour, highlightRows, 'main'], (c) => frameColours(c, colour, include, DIMMED), main);
    const highlightedRows = [];
    let drawnHighlights = 0;
    if (highlightChunk && highlightRows) {
      pass([highlightChunk], () => [colour, highlightRows, 'highlight'], (c) => frameColours(c, colour, include, 0), hl);
      const { a, bx, by } = pt;
      for (let i = 0; i < highlightChunk.n; i += 1) {
        if (!include(highlightChunk.row[i])) continue;
        const px = Math.floor(bx + a * highlightChunk.x[i] + 0.5);
        const py = Math.floor(by + a * highlightChunk.y[i] + 0.5);
        if (px >= 0 && py >= 0 && px < canvas.width && py < canvas.height) { drawnHighlights += 1; highlightedRows.push(highlightChunk.row[i]); }
      }
    }
    gl.bindVertexArray(null);
    evict();
    return { drawnPoints: countInCanvas(chunks, pt, canvas.width, canvas.height), drawnHighlights, highlightedRows };
  };
  return layer;
}
