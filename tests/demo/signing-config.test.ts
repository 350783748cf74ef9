// wharf.yml `signing:` names the local publisher's key files: the stage context signs with
// `signing.keyFile` when the environment names no key, and refuses a private key inside the catalog.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogStore } from '../../catalog/store.ts';
import { openStageContext, signerEnv } from '../../publisher/context.ts';
import { generateSigningKeyPair } from '../../publisher/sign/keys.ts';

let tmp: string;
let store: CatalogStore;
let keyId: string;
let keyFile: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'wharf-signing-config-'));
  const pair = generateSigningKeyPair();
  keyId = pair.keyId;
  keyFile = join(tmp, 'keys-cosign.key');
  await writeFile(keyFile, pair.privatePem, { mode: 0o600 });
  await writeFile(join(tmp, 'keys-cosign.pub'), pair.publicPem);
  store = await CatalogStore.init(join(tmp, 'catalog'), {
    signing: { keyFile, publicKey: join(tmp, 'keys-cosign.pub') },
  });
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('signing: in wharf.yml', () => {
  it('is part of the validated config', async () => {
    const cfg = await store.config();
    expect(cfg.signing).toEqual({ keyFile, publicKey: join(tmp, 'keys-cosign.pub') });
  });

  it('signs with signing.keyFile when the environment names no key', async () => {
    const ctx = await openStageContext(store, { env: {}, engine: null });
    const key = await ctx.signer();
    expect(key?.keyId).toBe(keyId);
    expect(key?.source).toBe('$WHARF_SIGNING_KEY_FILE');
  });

  it('an environment key wins over wharf.yml', async () => {
    const other = generateSigningKeyPair();
    const ctx = await openStageContext(store, { env: { WHARF_SIGNING_KEY: other.privatePem }, engine: null });
    expect((await ctx.signer())?.keyId).toBe(other.keyId);
  });

  it('refuses a private key file inside the catalog', () => {
    const cfg = { signing: { keyFile: 'keys/cosign.key' } } as Parameters<typeof signerEnv>[1];
    expect(() => signerEnv(store.dir, cfg, {})).toThrow(/inside the catalog/);
    expect(signerEnv(store.dir, { signing: {} } as Parameters<typeof signerEnv>[1], {})).toEqual({});
  });
});
