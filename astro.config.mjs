// Astro configuration for the marketplace in site/. The catalog directory comes from $WHARF_CATALOG
// (set by `wharf site build --catalog`); the output directory from $WHARF_SITE_OUT (default site/dist).
import { defineConfig } from 'astro/config';

export default defineConfig({
  root: '.',
  srcDir: './site/src',
  publicDir: './site/public',
  outDir: process.env.WHARF_SITE_OUT || './site/dist',
  // buildSite() gives every build its own cache and working directory, so concurrent builds (CLI
  // and daemon, parallel tests) never read each other's staged chunks.
  cacheDir: process.env.WHARF_SITE_CACHE || './.astro',
  output: 'static',
  trailingSlash: 'ignore',
  compressHTML: true,
  build: { format: 'directory', inlineStylesheets: 'never', assets: '_assets' },
  devToolbar: { enabled: false },
  vite: {
    // The catalog library is plain Node code (git through execa); keep it out of any client bundle.
    ssr: { external: ['execa', 'p-limit', 'yaml', 'zod', 'marked', 'sanitize-html'] },
  },
});
