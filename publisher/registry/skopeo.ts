// Fetching one arch of an image reference into an OCI layout with `skopeo copy` (argv only, never a
// shell), authenticated with the credentials publisher/registry/credentials.ts finds. skopeo gets them in
// a temporary auth file (mode 0600, in a 0700 directory of its own, removed when the copy ends), never as
// `--src-creds user:pass`, which any local user could read in `ps`. A refused anonymous fetch says how to
// configure credentials; a refused authenticated one says where the refused credentials came from.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { Credentials } from './auth.ts';
import { CREDENTIALS_HINT, type FoundCredentials } from './credentials.ts';
import { parseImageRef } from './ref.ts';

/** A temp auth file holding `credentials` for `registry`; `remove` deletes it (and its directory). */
export async function tempAuthFile(
  registry: string,
  credentials: Credentials,
): Promise<{ path: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'wharf-auth-')); // mkdtemp makes it 0700
  const path = join(dir, 'auth.json');
  const auth = Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64');
  await writeFile(path, JSON.stringify({ auths: { [registry]: { auth } } }), { mode: 0o600, flag: 'wx' });
  return { path, remove: () => rm(dir, { recursive: true, force: true }) };
}

export interface SkopeoFetchOptions {
  /** The layout directory to write (`oci:<dir>`). */
  dir: string;
  arch: string;
  /** Read the registry over plain http (loopback, wharf.yml `insecure`). */
  insecure?: boolean;
  credentials?: FoundCredentials;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** The skopeo binary (default $WHARF_SKOPEO, else skopeo). */
  bin?: string;
}

/** `skopeo copy docker://<ref> oci:<dir>` for linux/<arch>; throws with skopeo's last lines and a hint. */
export async function skopeoFetch(ref: string, o: SkopeoFetchOptions): Promise<void> {
  const registry = parseImageRef(ref).registry;
  const auth = o.credentials ? await tempAuthFile(registry, o.credentials.credentials) : undefined;
  try {
    const r = await execa(
      o.bin ?? process.env.WHARF_SKOPEO ?? 'skopeo',
      [
        'copy',
        '--quiet',
        '--override-os',
        'linux',
        '--override-arch',
        o.arch,
        ...(o.insecure ? ['--src-tls-verify=false'] : []),
        ...(auth ? ['--src-authfile', auth.path] : []),
        `docker://${ref}`,
        `oci:${o.dir}`,
      ],
      {
        reject: false,
        timeout: o.timeoutMs ?? 30 * 60_000,
        ...(o.signal ? { cancelSignal: o.signal } : {}),
      },
    );
    if (r.exitCode === 0) return;
    const stderr = String(r.stderr).trim();
    const refused = /unauthorized|authentication required|denied|\b401\b|\b403\b/i.test(stderr);
    const hint = !refused
      ? ''
      : o.credentials
        ? `; ${registry} refused the credentials from ${o.credentials.from}`
        : `; ${registry} requires credentials and none are configured (${CREDENTIALS_HINT})`;
    throw new Error(`skopeo copy ${ref} (${o.arch}): ${stderr.split('\n').slice(-3).join(' ')}${hint}`);
  } finally {
    await auth?.remove();
  }
}
