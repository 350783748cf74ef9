// Global test setup: nothing shared is started here; each test file starts the real services it
// needs (tests/helpers/*) on loopback ports of their own, so files run in parallel without colliding.
//
// Every temporary directory of the run (catalogs, registries, podman storage, sites) lives under
// one root: TMPDIR is set before the test workers start, and they and the processes they spawn
// inherit it. The root is removed when the run ends, so test runs leave nothing behind in /tmp.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  process.env.WHARF_TEST = '1';
  const root = mkdtempSync(join(tmpdir(), 'wharf-test-'));
  process.env.TMPDIR = root;
  return () => {
    try {
      rmSync(root, { recursive: true, force: true, maxRetries: 3 });
    } catch (e) {
      console.warn(`test teardown: could not remove ${root}: ${(e as Error).message}`);
    }
  };
}
