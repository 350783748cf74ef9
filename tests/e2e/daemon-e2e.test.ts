// The whole loop with real parts: a loopback upstream publishes a new tag → the daemon (a real process,
// schedules of seconds) sweeps it, runs the pipeline against real podman + docker-registry, commits each
// result → a loopback webhook receiver gets the signed events in order → the site, rebuilt by the daemon,
// shows the new version in a real browser. The daemon is SIGKILLed in the middle of the pipeline and
// restarted: no event is lost and no record is half-written.
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git, gitOk } from '../../catalog/git.ts';
import { deriveEvents } from '../../publisher/events/derive.ts';
import { commitsSince } from '../../catalog/store/history.ts';
import { serveSite } from '../../site/node/serve.ts';
import { launchChromium } from '../site/browser.ts';
import { startReceiver, type Receiver } from '../events/fixtures.ts';
import { startPipelineFixture, type PipelineFixture } from '../pipeline/fixture.ts';

const REPO = resolve(import.meta.dirname, '../..');
const SECRET = 'e2e-webhook-secret-4711';
const NEW_TAG = '1.2.0-oe2403sp4';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let f: PipelineFixture;
let upstream: Server;
let upstreamTags = ['v1.0.0', 'v1.1.0'];
let recv: Receiver;
let env: NodeJS.ProcessEnv;
let siteOut: string;
const daemons: ResultPromise[] = [];
const logs: Record<string, unknown>[] = [];

beforeAll(async () => {
  f = await startPipelineFixture();
  recv = await startReceiver(SECRET);
  upstream = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ releases: upstreamTags.map((t) => ({ tag_name: t })) }));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as { port: number }).port}/releases.json`;
  siteOut = join(f.dir, 'site');
  const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  env = {
    WHARF_SIGNING_KEY: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    WHARF_TRIVY: join(REPO, 'tests/fixtures/bin/trivy'),
    WHARF_TRIVY_TIMEOUT: '30',
    FAKE_TRIVY_REPORT: 'alpine-310',
    WHARF_E2E_SECRET: SECRET,
  };
  await f.store.commit({ subject: 'e2e: upstream, daemon and events configuration' }, async (tx) => {
    const cfg = await tx.getConfig();
    tx.putConfig({
      ...cfg,
      siteUrl: 'https://apps.example.org',
      scanPolicy: { ...cfg.scanPolicy, block: [] },
      events: {
        backoff: { baseMs: 200, maxMs: 1000 },
        subscriptions: [{ name: 'receiver', url: recv.url, secretEnv: 'WHARF_E2E_SECRET' }],
      },
      daemon: {
        engine: f.podman.url,
        workDir: f.workDir,
        siteOut,
        graceSeconds: 5,
        jobs: {
          watch: { schedule: '*/2 * * * * *' },
          pipeline: { schedule: '*/2 * * * * *' },
          events: { schedule: '* * * * * *' },
          site: { schedule: '*/3 * * * * *' },
          rescan: { enabled: false },
        },
      },
    });
    const hello = (await tx.getApp('hello'))!;
    tx.putApp({
      ...hello,
      upstream: {
        backend: 'http-json',
        url: upstreamUrl,
        jsonPath: '$.releases[*].tag_name',
        scheme: 'semver',
        prefixes: ['v'],
      },
    });
  });
}, 180_000);

afterAll(async () => {
  for (const d of daemons) d.kill('SIGKILL');
  await recv?.close();
  upstream?.closeAllConnections();
  await new Promise((r) => upstream?.close(r));
  await f?.stop();
});

function startDaemon(): { proc: ResultPromise; url: Promise<string> } {
  const proc = execa(
    join(REPO, 'node_modules/.bin/node'),
    [join(REPO, 'scripts/wharf.mjs'), 'daemon', '--catalog', f.store.dir, '--port', '0', '--json-logs'],
    {
      cwd: REPO,
      env,
      reject: false,
      buffer: false,
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'inherit',
    },
  );
  daemons.push(proc);
  const url = new Promise<string>((resolveUrl) => {
    let rest = '';
    proc.stdout!.on('data', (b: Buffer) => {
      const text = rest + b.toString();
      const lines = text.split('\n');
      rest = lines.pop() ?? '';
      for (const l of lines) {
        if (!l.trim()) continue;
        let j: Record<string, unknown>;
        try {
          j = JSON.parse(l) as Record<string, unknown>;
        } catch {
          j = { msg: l };
        }
        logs.push(j);
        if (j.msg === 'daemon started') resolveUrl(j.url as string);
      }
    });
  });
  return { proc, url };
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${what}; last log lines: ${JSON.stringify(logs.slice(-8))}`);
    await sleep(100);
  }
}

const artifactPath = () => join(f.store.dir, `apps/hello/artifacts/container/${NEW_TAG}.json`);
async function newArtifact(): Promise<{
  records: Record<string, { status: string }>;
  pending?: unknown;
} | null> {
  try {
    return JSON.parse(await readFile(artifactPath(), 'utf8'));
  } catch {
    return null;
  }
}
const typeOf = (t: string) => t.replace('org.openeuler.wharf.', '');

describe('daemon end to end', () => {
  it('notices a new upstream tag, builds and publishes it, tells subscribers in order, survives SIGKILL, and updates the site', async () => {
    // 1. The daemon sees the current upstream (nothing new to build), then the upstream tags v1.2.0.
    const t0 = Date.now();
    const phase = (what: string) =>
      console.log(`e2e: ${what} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const first = startDaemon();
    await first.url;
    await until('the first sweep', () => logs.some((l) => l.msg === 'job watch finished'), 30_000);
    upstreamTags = [...upstreamTags, 'v1.2.0'];

    // 2. Kill it with SIGKILL in the middle of the pipeline: built, not yet published.
    await until('the build record', async () => !!(await newArtifact())?.records.build, 240_000);
    const atKill = await newArtifact();
    phase('built; SIGKILL');
    first.proc.kill('SIGKILL');
    const killed = await first.proc;
    expect(killed.signal).toBe('SIGKILL');
    expect(atKill!.records.publish, 'killed before the publish record').toBeUndefined();

    // 3. Restart: the pending artifact is finished, the site rebuilt, every event delivered.
    const second = startDaemon();
    const url = await second.url;
    await until(
      'the publish record',
      async () => (await newArtifact())?.records.publish?.status === 'ok',
      240_000,
    );
    phase('published after the restart');
    // The watch job keeps committing (lastChecked), so wait for a site built from the publish commit or later.
    const published = await git(f.store.dir, [
      'log',
      '-n1',
      '--format=%H',
      '--',
      `apps/hello/artifacts/container/${NEW_TAG}.json`,
    ]);
    await until(
      'the site built from the published catalog',
      async () => {
        const h = (await (await fetch(`${url}/healthz`)).json()) as {
          jobs: { site: { lastSummary?: { head?: string } } };
        };
        const built = h.jobs.site.lastSummary?.head;
        return !!built && (await gitOk(f.store.dir, ['merge-base', '--is-ancestor', published, built]));
      },
      180_000,
    );
    phase('site rebuilt');
    const expected = await deriveEvents(f.store.dir, await commitsSince(f.store.dir, null), {
      source: 'wharf://wharf',
      catalogName: 'wharf',
      siteUrl: 'https://apps.example.org',
    });
    await until(
      'every event delivered',
      () => {
        const got = new Set(recv.received.map((r) => r.event.id));
        return expected.every((e) => got.has(e.id));
      },
      30_000,
    );

    // Signed, never lost; duplicates (at-least-once) only as repeats of a known id; first deliveries in commit order.
    expect(recv.received.every((r) => r.verified)).toBe(true);
    const order = expected.map((e) => e.id);
    const known = new Set(order);
    const firstSeen = [...new Map(recv.received.map((r) => [r.event.id, r.event])).values()].filter((e) =>
      known.has(e.id),
    );
    expect(firstSeen.map((e) => e.id)).toEqual(order);
    const mine = firstSeen.filter(
      (e) =>
        e.subject === `hello/${NEW_TAG}` || (e.subject === 'hello' && e.type.endsWith('release.detected')),
    );
    const kinds = mine.map((e) => typeOf(e.type));
    for (const k of [
      'release.detected',
      'rebuild.queued',
      'image.built',
      'image.verified',
      'image.scanned',
      'image.signed',
      'image.published',
    ])
      expect(kinds, kinds.join(' ')).toContain(k);
    const pos = (k: string) => kinds.indexOf(k);
    expect(pos('release.detected')).toBeLessThan(pos('image.built'));
    expect(pos('image.built')).toBeLessThan(pos('image.published'));
    const pubEvent = mine.find((e) => e.type.endsWith('image.published'))!;
    expect(pubEvent.data).toMatchObject({ app: 'hello', version: '1.2.0', status: 'ok' });
    expect(pubEvent.sourceurl).toBe('https://apps.example.org/apps/hello/');

    const registry = await fetch(`${f.registry.url}/v2/wharf/hello/manifests/${NEW_TAG}`, {
      headers: {
        accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json',
      },
    });
    expect(registry.status).toBe(200);

    // 4. The site shows the new version in a real browser.
    const { server, url: siteUrl } = await serveSite({ dir: siteOut, port: 0 });
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      await page.goto(`${siteUrl.replace(/\/$/, '')}/en/apps/hello/`);
      await expect.poll(async () => page.textContent('body'), { timeout: 10_000 }).toContain('1.2.0');
      expect(await page.textContent('body')).toContain(NEW_TAG);
    } finally {
      await browser.close();
      server.closeAllConnections?.();
      await new Promise((r) => server.close(r));
    }

    second.proc.kill('SIGTERM');
    expect((await second.proc).exitCode).toBe(0);

    // No half-written record: every catalog file validates and the work tree is clean. Checked once the daemon
    // has stopped, because a running watch job has its sweep summary in the work tree while it commits.
    const snap = await f.store.load();
    expect(snap.problems).toEqual([]);
    expect(await git(f.store.dir, ['status', '--porcelain'])).toBe('');
  }, 600_000);
});
