// Debian's chromium through playwright-core, with the flags that work on these machines, plus a
// helper that builds a site with the CLI and serves it on a loopback port of its own.
import { mkdir } from 'node:fs/promises';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { execa } from 'execa';
import { chromium, type Browser } from 'playwright-core';
import { serveSite } from '../../site/node/serve.ts';
import type { SiteBuildResult } from '../../site/node/build.ts';

export const REPO = join(import.meta.dirname, '../..');
export const ARTIFACTS = join(REPO, 'tests/artifacts');

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** `wharf site build --json` in a child process (Astro must not run inside the test runner's Vite). */
export async function cliBuild(catalog: string, out: string, extra: string[] = []): Promise<SiteBuildResult> {
  const r = await execa(
    join(REPO, 'node_modules/.bin/node'),
    [
      join(REPO, 'scripts/wharf.mjs'),
      'site',
      'build',
      '--catalog',
      catalog,
      '--out',
      out,
      '--json',
      ...extra,
    ],
    {
      cwd: REPO,
      reject: false,
    },
  );
  if (r.exitCode !== 0) throw new Error(`site build failed (${r.exitCode}): ${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout) as SiteBuildResult;
}

export async function serve(dir: string): Promise<{ server: Server; url: string }> {
  return serveSite({ dir, port: 0 });
}

export async function artifactsDir(): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  return ARTIFACTS;
}
