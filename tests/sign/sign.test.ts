import { createPrivateKey } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RegistryClient, sha256Digest } from '../../publisher/registry/client.ts';
import { MANIFEST_ACCEPT, OCI_CONFIG, OCI_MANIFEST } from '../../publisher/registry/media.ts';
import {
  DSSE_TYPE,
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_TYPE,
  signBase64,
  signatureManifest,
  simpleSigningPayload,
} from '../../publisher/sign/cosign.ts';
import {
  generateSigningKeyPair,
  loadSigningKey,
  parsePrivateKey,
  parsePublicKey,
} from '../../publisher/sign/keys.ts';
import { verifyImage } from '../../publisher/sign/verify.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { makeHarness, publishWith, recipe, runSign, type Harness } from '../publish/harness.ts';

const runPublish = publishWith();

interface Statement {
  _type: string;
  subject: unknown;
  predicate: {
    buildDefinition: {
      externalParameters: { recipe: unknown };
      internalParameters: { inputsDigest?: string };
      resolvedDependencies: unknown[];
    };
    runDetails: { builder: { id: string }; metadata: { invocationId: string } };
  };
}

let reg: TestRegistry;
let h: Harness;
const pair = generateSigningKeyPair();
const other = generateSigningKeyPair();
const pub = parsePublicKey(pair.publicPem, 'test');
let digest: string;
let ref: string;

beforeAll(async () => {
  reg = await startRegistry();
  h = await makeHarness(
    {
      registries: [{ name: 'local', repository: `${reg.host}/openeuler`, insecure: true }],
      recipes: { url: 'https://example.org/recipes.git', ref: 'HEAD' },
    },
    [
      {
        id: 'redis',
        name: 'redis',
        title: { en: 'Redis' },
        category: 'database',
        recipes: { container: [recipe('8.6.4-oe2403sp4', '8.6.4', '24.03-lts-sp4')] },
      },
    ],
  );
  digest = await h.built('redis', '8.6.4-oe2403sp4');
  ref = `${reg.host}/openeuler/redis:8.6.4-oe2403sp4`;
});
afterAll(async () => {
  await reg?.stop();
  await h?.cleanup();
});

describe('signing keys', () => {
  it('loads PKCS#8, encrypted PKCS#8 (COSIGN_PASSWORD) and SEC1 EC keys, with a stable key id', async () => {
    const k = parsePrivateKey(pair.privatePem, 'test');
    expect(k.keyId).toBe(pair.keyId);
    const enc = generateSigningKeyPair('hunter2');
    expect(enc.privatePem).toContain('BEGIN ENCRYPTED PRIVATE KEY');
    expect(
      (await loadSigningKey({ WHARF_SIGNING_KEY: enc.privatePem, COSIGN_PASSWORD: 'hunter2' }))!.keyId,
    ).toBe(enc.keyId);
    await expect(
      loadSigningKey({ WHARF_SIGNING_KEY: enc.privatePem, COSIGN_PASSWORD: 'nope' }),
    ).rejects.toThrow(/could not be decrypted/);
    const sec1 = createPrivateKey(pair.privatePem).export({ type: 'sec1', format: 'pem' }) as string;
    expect(sec1).toContain('BEGIN EC PRIVATE KEY');
    const file = join(h.dir, 'sec1.key');
    await writeFile(file, sec1);
    expect((await loadSigningKey({ WHARF_SIGNING_KEY_FILE: file }))!.keyId).toBe(pair.keyId);
    expect(await loadSigningKey({})).toBeNull();
  });

  it('refuses non-P-256 keys and never quotes the key text', async () => {
    const bogus = '-----BEGIN PRIVATE KEY-----\nTOPSECRETMATERIAL\n-----END PRIVATE KEY-----\n';
    const err = await loadSigningKey({ WHARF_SIGNING_KEY: bogus }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/could not be parsed/);
    expect((err as Error).message).not.toContain('TOPSECRET');
  });
});

describe('sign → publish → verify against a real registry', () => {
  it('signs in cosign format, publishes next to the image, and verifies', async () => {
    const env = { WHARF_SIGNING_KEY: pair.privatePem };
    const s = await runSign(await h.ctx(env), await h.target('redis', '8.6.4-oe2403sp4'));
    expect(s.status).toBe('signed');
    const p = await runPublish(await h.ctx(env), await h.target('redis', '8.6.4-oe2403sp4'));
    expect(p.status).toBe('ok');

    const art = (await h.store.loadApp('redis'))!.artifacts[0]!;
    const sign = art.records.sign!;
    expect(sign.keyId).toBe(pair.keyId);
    expect(sign.signatures).toHaveLength(1);
    const sig = sign.signatures[0]!;
    expect(sig).toMatchObject({
      target: 'local',
      ref,
      digest,
      signatureTag: `sha256-${digest.slice(7)}.sig`,
      attestationTag: `sha256-${digest.slice(7)}.att`,
    });
    expect(art.pending).toBeUndefined();

    // The .sig artifact as cosign lays it out, read back over plain HTTP.
    const res = await fetch(`${reg.url}/v2/openeuler/redis/manifests/${sig.signatureTag}`, {
      headers: { accept: MANIFEST_ACCEPT },
    });
    expect(res.status).toBe(200);
    const manifestBytes = Buffer.from(await res.arrayBuffer());
    expect(sha256Digest(manifestBytes)).toBe(sig.signatureDigest);
    const m = JSON.parse(manifestBytes.toString('utf8'));
    expect(m.mediaType).toBe(OCI_MANIFEST);
    expect(m.config.mediaType).toBe(OCI_CONFIG);
    expect(m.layers).toHaveLength(1);
    expect(m.layers[0].mediaType).toBe(SIMPLE_SIGNING_TYPE);
    const payload = JSON.parse(
      Buffer.from(
        await (await fetch(`${reg.url}/v2/openeuler/redis/blobs/${m.layers[0].digest}`)).arrayBuffer(),
      ).toString('utf8'),
    );
    expect(payload.critical).toEqual({
      identity: { 'docker-reference': `${reg.host}/openeuler/redis` },
      image: { 'docker-manifest-digest': digest },
      type: 'cosign container image signature',
    });
    expect(m.layers[0].annotations[SIGNATURE_ANNOTATION]).toMatch(/^[A-Za-z0-9+/]+=*$/);

    // The .att artifact: a DSSE envelope with the SLSA provenance statement.
    const att = JSON.parse(
      await (
        await fetch(`${reg.url}/v2/openeuler/redis/manifests/${sig.attestationTag}`, {
          headers: { accept: MANIFEST_ACCEPT },
        })
      ).text(),
    );
    expect(att.layers[0].mediaType).toBe(DSSE_TYPE);
    expect(att.layers[0].annotations.predicateType).toBe('https://slsa.dev/provenance/v1');

    const v = await verifyImage(ref, pub);
    expect(v.reasons).toEqual([]);
    expect(v.valid).toBe(true);
    expect(v.digest).toBe(digest);
    expect(v.attestations).toHaveLength(1);
    const st = v.attestations[0]!.statement as Statement;
    expect(st._type).toBe('https://in-toto.io/Statement/v1');
    expect(st.subject).toEqual([
      { name: `${reg.host}/openeuler/redis`, digest: { sha256: digest.slice(7) } },
    ]);
    const build = art.records.build!;
    expect(st.predicate.buildDefinition.externalParameters.recipe).toMatchObject({
      repository: 'https://example.org/recipes.git',
      commit: build.recipeCommit,
      dockerfile: '8.6.4/24.03-lts-sp4/Dockerfile',
      tag: '8.6.4-oe2403sp4',
    });
    expect(st.predicate.buildDefinition.internalParameters.inputsDigest).toBe(build.inputsDigest);
    expect(st.predicate.buildDefinition.resolvedDependencies).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ uri: build.base!.ref, digest: { sha256: build.base!.digest!.slice(7) } }),
        expect.objectContaining({ digest: { gitCommit: build.recipeCommit } }),
      ]),
    );
    expect(st.predicate.runDetails.metadata.invocationId).toBe(build.runId);
    expect(st.predicate.runDetails.builder.id).toMatch(/^urn:wharf:builder:/);
    expect(await verifyImage(`${reg.host}/openeuler/redis@${digest}`, pub)).toMatchObject({ valid: true });
  });

  it('a second sign and publish on the same digest are unchanged', async () => {
    const env = { WHARF_SIGNING_KEY: pair.privatePem };
    expect((await runSign(await h.ctx(env), await h.target('redis', '8.6.4-oe2403sp4'))).status).toBe(
      'unchanged',
    );
    expect((await runPublish(await h.ctx(env), await h.target('redis', '8.6.4-oe2403sp4'))).status).toBe(
      'unchanged',
    );
  });

  it('verify --catalog refuses a validly signed image that is not the digest the app published', async () => {
    const keyFile = join(h.dir, 'cosign.pub');
    await writeFile(keyFile, pair.publicPem);
    const verify = () =>
      execa(
        'node',
        ['scripts/wharf.mjs', 'verify', ref, '--key', keyFile, '--catalog', h.store.dir, '--json'],
        {
          reject: false,
          env: { WHARF_CATALOG: '' },
        },
      );
    const ok = await verify();
    expect([ok.exitCode, JSON.parse(ok.stdout).valid]).toEqual([0, true]);
    // The app's record names another digest (as when a second app pushed over this tag).
    const art = (await h.store.loadApp('redis'))!.artifacts[0]!;
    const recorded = art.records.publish!;
    const other = `sha256:${'d'.repeat(64)}`;
    const put = (publish: typeof recorded) =>
      h.store.commit({ subject: 'test: publish record' }, (tx) => {
        tx.putArtifact({ ...art, records: { ...art.records, publish } });
      });
    await put({
      ...recorded,
      digest: other,
      targets: recorded.targets.map((t) => ({ ...t, digest: other })),
    });
    try {
      const bad = await verify();
      expect(bad.exitCode).toBe(1);
      const out = JSON.parse(bad.stdout);
      expect(out.valid).toBe(false);
      expect(out.reasons.join(' ')).toMatch(
        new RegExp(`digest ${digest} is not the one app redis published`),
      );
    } finally {
      await put(recorded);
    }
  });

  it('rejects a wrong key, a modified payload and a payload for another digest', async () => {
    expect(await verifyImage(ref, parsePublicKey(other.publicPem, 'other'))).toMatchObject({ valid: false });
    expect((await verifyImage(ref, parsePublicKey(other.publicPem, 'other'))).reasons.join(' ')).toMatch(
      /does not verify/,
    );

    const c = new RegistryClient({ registry: reg.host, insecure: true });
    const repo = 'openeuler/redis';
    const sigTag = `sha256-${digest.slice(7)}.sig`;
    const original = (await c.getManifest(repo, sigTag))!;
    const key = parsePrivateKey(pair.privatePem, 'test').privateKey;
    const put = async (payload: Buffer, sigB64: string) => {
      const m = signatureManifest(payload, sigB64);
      for (const b of m.blobs) await c.uploadBlob(repo, sha256Digest(b), b.length, { bytes: b });
      await c.putManifest(repo, sigTag, m.manifest, OCI_MANIFEST);
    };
    try {
      // Modified payload, original signature.
      const good = simpleSigningPayload(`${reg.host}/openeuler/redis`, digest, null);
      const tampered = Buffer.from(good.toString('utf8').replace('openeuler/redis', 'openeuler/evil'));
      await put(tampered, signBase64(key, good));
      const v1 = await verifyImage(ref, pub);
      expect(v1.valid).toBe(false);
      expect(v1.reasons.join(' ')).toMatch(/does not verify/);

      // Correctly signed, but for another digest.
      const wrongDigest = simpleSigningPayload(
        `${reg.host}/openeuler/redis`,
        `sha256:${'c'.repeat(64)}`,
        null,
      );
      await put(wrongDigest, signBase64(key, wrongDigest));
      const v2 = await verifyImage(ref, pub);
      expect(v2.valid).toBe(false);
      expect(v2.reasons.join(' ')).toMatch(/not the image digest/);

      // CLI: exit 1 with the reason, 0 once the real signature is back.
      const keyFile = join(h.dir, 'cosign.pub');
      await writeFile(keyFile, pair.publicPem);
      const bad = await execa('node', ['scripts/wharf.mjs', 'verify', ref, '--key', keyFile, '--json'], {
        reject: false,
      });
      expect(bad.exitCode).toBe(1);
      expect(JSON.parse(bad.stdout).valid).toBe(false);
    } finally {
      await c.putManifest(repo, sigTag, original.bytes, OCI_MANIFEST);
    }
    const keyFile = join(h.dir, 'cosign.pub');
    const ok = await execa('node', ['scripts/wharf.mjs', 'verify', ref, '--key', keyFile], { reject: false });
    expect(ok.stdout).toContain('signature valid');
    expect(ok.exitCode).toBe(0);
    const usage = await execa('node', ['scripts/wharf.mjs', 'verify', ref], { reject: false });
    expect(usage.exitCode).toBe(2);
  });

  it('keygen writes a cosign-readable pair, and the private key appears in no record, log or commit', async () => {
    const prefix = join(h.dir, 'gen');
    const r = await execa('node', ['scripts/wharf.mjs', 'keygen', '--out', prefix, '--json'], {
      reject: false,
    });
    expect(r.exitCode).toBe(0);
    const gen = JSON.parse(r.stdout);
    const priv = await readFile(`${prefix}.key`, 'utf8');
    expect(priv).toContain('BEGIN PRIVATE KEY');
    expect((await readFile(`${prefix}.pub`, 'utf8')).trim()).toMatch(
      /^-----BEGIN PUBLIC KEY-----[\s\S]+-----END PUBLIC KEY-----$/,
    );
    expect(parsePrivateKey(priv, 'gen').keyId).toBe(gen.keyId);
    expect(
      (await execa('node', ['scripts/wharf.mjs', 'keygen', '--out', prefix], { reject: false })).exitCode,
    ).toBe(1);

    // Everything the stages said or wrote: logs, catalog history (all commits, full patches).
    const history = (await execa('git', ['log', '-p', '--all'], { cwd: h.store.dir })).stdout;
    const everything = [h.logs.join('\n'), history, JSON.stringify(await h.store.loadApp('redis'))].join(
      '\n',
    );
    const body = pair.privatePem.split('\n').filter((l) => l && !l.startsWith('-----'));
    const scalar = createPrivateKey(pair.privatePem).export({ format: 'jwk' }).d as string;
    expect(body.length).toBeGreaterThan(0);
    for (const line of body) expect(everything).not.toContain(line);
    expect(everything).not.toContain(scalar);
    expect(everything).toContain(pair.keyId);
  });

  it('records a failed sign, naming the variable but not the text, for a broken key', async () => {
    const s = await runSign(
      await h.ctx({
        WHARF_SIGNING_KEY: '-----BEGIN EC PRIVATE KEY-----\nSECRETSTUFF\n-----END EC PRIVATE KEY-----',
      }),
      await h.target('redis', '8.6.4-oe2403sp4'),
    );
    expect(s.status).toBe('failed');
    const rec = (await h.store.loadApp('redis'))!.artifacts[0]!.records.sign!;
    expect(rec.error!.message).toMatch(/WHARF_SIGNING_KEY could not be parsed/);
    expect(JSON.stringify(rec)).not.toContain('SECRETSTUFF');
    // Publishing is now blocked by the failed signature.
    const p = await runPublish(await h.ctx({}), await h.target('redis', '8.6.4-oe2403sp4'));
    expect(p.status).toBe('blocked');
    expect((await h.store.loadApp('redis'))!.artifacts[0]!.records.publish).toMatchObject({
      status: 'blocked',
      blockedBy: 'sign',
    });
  });
});
