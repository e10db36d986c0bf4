// Which points renderer a browser gets: WebGL where it runs on a GPU, the ImageData canvas path
// otherwise. A software WebGL (SwiftShader, llvmpipe) draws a million points some 50× slower than
// writing them into an ImageData on the CPU, so it counts as no WebGL unless asked for by name.

export const RENDERERS = Object.freeze(['auto', 'webgl', 'canvas']);
const SOFTWARE = /swiftshader|llvmpipe|softpipe|software|basic render driver|mesa offscreen/i;

/** The renderer asked for by a page's query string (`?renderer=webgl|canvas|auto`), 'auto' when none. */
export function requestedRenderer(search) {
  const asked = new URLSearchParams(search ?? '').get('renderer');
  if (asked === null || asked === '') return 'auto';
  if (!RENDERERS.includes(asked)) throw new RangeError(`renderer must be one of ${RENDERERS.join(', ')}; got ${JSON.stringify(asked)}`);
  return asked;
}

/**
 * Choose between 'webgl' and 'canvas' for `requested` ('auto' | 'webgl' | 'canvas') given the probe
 * {webgl: whether a WebGL2 context could be made, gpu: its unmasked renderer string or null}.
 * Returns {name, reason}; WebGL asked for by name without WebGL2 falls back to the canvas, saying so.
 */
export function chooseRenderer(requested, probe) {
  if (!RENDERERS.includes(requested)) throw new RangeError(`renderer must be one of ${RENDERERS.join(', ')}; got ${JSON.stringify(requested)}`);
  const gpu = probe?.gpu ?? '';
  if (requested === 'canvas') return { name: 'canvas', reason: 'asked for' };
  if (!probe?.webgl) return { name: 'canvas', reason: 'no WebGL2' };
  if (requested === 'webgl') return { name: 'webgl', reason: 'asked for' };
  if (SOFTWARE.test(gpu)) return { name: 'canvas', reason: `software WebGL (${gpu})` };
  return { name: 'webgl', reason: gpu ? `GPU (${gpu})` : 'WebGL2' };
}

/** Probe the browser for WebGL2 on a throwaway canvas (the points canvas must stay free for either context). */
export function probeWebGL(doc = document) {
  const canvas = doc.createElement('canvas');
  const gl = canvas.getContext('webgl2');
  if (!gl) return { webgl: false, gpu: null };
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const gpu = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? '');
  gl.getExtension('WEBGL_lose_context')?.loseContext();
  return { webgl: true, gpu };
}
