/**
 * The web console: built by `npm run build` into dist/console (served by the sync agent at /console/), and its
 * component tests (`npm run test:console`, Vitest in jsdom). No plugin is needed: Vite's own transform compiles
 * TSX with React's automatic runtime.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'react' } },
  build: {
    outDir: fileURLToPath(new URL('../../dist/console', import.meta.url)),
    emptyOutDir: true,
    // Everything is served from this origin: no inline assets that a strict Content-Security-Policy would refuse.
    assetsInlineLimit: 0,
    sourcemap: true,
  },
  test: {
    root,
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    restoreMocks: true,
  },
});
