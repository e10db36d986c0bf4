import { defineConfig } from 'vite';

// Relative asset paths: Flask serves dist/index.html at `/` and the assets next to it.
export default defineConfig({
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, chunkSizeWarningLimit: 800 },
  server: { proxy: { '/api': 'http://127.0.0.1:5000' } },
  test: { include: ['tests/**/*.test.js'], environment: 'node' },
});
