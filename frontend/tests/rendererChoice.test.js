import { describe, it, expect } from 'vitest';
import { chooseRenderer, requestedRenderer } from '../src/lib/rendererChoice.js';

describe('requestedRenderer', () => {
  it('reads ?renderer= and defaults to auto', () => {
    expect(requestedRenderer('')).toBe('auto');
    expect(requestedRenderer('?x=1')).toBe('auto');
    expect(requestedRenderer('?renderer=canvas')).toBe('canvas');
    expect(requestedRenderer('?renderer=webgl&x=1')).toBe('webgl');
  });
  it('refuses an unknown renderer, naming the choices', () => {
    expect(() => requestedRenderer('?renderer=webgpu')).toThrow(/auto, webgl, canvas; got "webgpu"/);
  });
});

describe('chooseRenderer', () => {
  const swiftshader = { webgl: true, gpu: 'ANGLE (Google, Vulkan 1.3.0 (SwiftShader Device (Subzero)), SwiftShader driver)' };
  const gpu = { webgl: true, gpu: 'ANGLE (NVIDIA, NVIDIA GeForce RTX 3060 Direct3D11 vs_5_0 ps_5_0)' };
  it('takes WebGL on a GPU and the canvas on software WebGL or none', () => {
    expect(chooseRenderer('auto', gpu)).toEqual({ name: 'webgl', reason: `GPU (${gpu.gpu})` });
    expect(chooseRenderer('auto', swiftshader)).toEqual({ name: 'canvas', reason: `software WebGL (${swiftshader.gpu})` });
    expect(chooseRenderer('auto', { webgl: true, gpu: 'llvmpipe (LLVM 15.0.6, 256 bits)' }).name).toBe('canvas');
    expect(chooseRenderer('auto', { webgl: false, gpu: null })).toEqual({ name: 'canvas', reason: 'no WebGL2' });
    expect(chooseRenderer('auto', { webgl: true, gpu: '' })).toEqual({ name: 'webgl', reason: 'WebGL2' });
  });
  it('obeys a renderer asked for by name, unless WebGL2 is missing', () => {
    expect(chooseRenderer('webgl', swiftshader)).toEqual({ name: 'webgl', reason: 'asked for' });
    expect(chooseRenderer('canvas', gpu)).toEqual({ name: 'canvas', reason: 'asked for' });
    expect(chooseRenderer('webgl', { webgl: false, gpu: null })).toEqual({ name: 'canvas', reason: 'no WebGL2' });
    expect(() => chooseRenderer('svg', gpu)).toThrow(/renderer must be one of/);
  });
});
