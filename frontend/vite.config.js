import { defineConfig } from 'vite';

// Relative asset paths: Flask serves dist/index.html at `/` and the assets next to it.
export default defineConfig({
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 800 },
  // changeOrigin: the API answers only Host headers naming itself (127.0.0.1:5000) when bound to loopback.
  server: { proxy: { '/api': { target: 'http://127.0.0.1:5000', changeOrigin: true } } },
  test: { include: ['tests/**/*.test.js'], environment: 'node' },
});
