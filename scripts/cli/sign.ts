// `wharf sign`, `wharf verify`, `wharf keygen`: thin shells over publisher/sign.
//   wharf keygen --out <prefix>          writes <prefix>.key (PKCS#8 P-256, encrypted with $COSIGN_PASSWORD
//                                        when set) and <prefix>.pub (what `cosign verify --key` reads)
//   wharf sign [app[:tag]…]              the sign stage for built artifacts
//   wharf verify <image-ref> --key <pub> checks the cosign signature (and provenance) in the registry;
//                                        exit 0 valid, 1 invalid. With app[:tag] arguments instead of image
//                                        references it runs the smoke-test verify stage.
import { readFile, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { isExplicitImageRef, RefError } from '../../publisher/registry/ref.ts';
import { signStage } from '../../publisher/sign/index.ts';
import {
  PASSWORD_ENV,
  generateSigningKeyPair,
  parsePublicKey,
  SigningKeyError,
} from '../../publisher/sign/keys.ts';
import { verifyImage, type VerifyResult } from '../../publisher/sign/verify.ts';
import { CommandFailed, EXIT_FAIL, UsageError, catalogOption, jsonOption, printJson } from './common.ts';
import { runStageCommand, type StageCommandOptions } from './stages.ts';

/** Pull credentials for private registries: $WHARF_REGISTRY_USERNAME / $WHARF_REGISTRY_PASSWORD. */
function registryCredentials(env: NodeJS.ProcessEnv): {
  credentials?: { username: string; password: string };
} {
  const username = env.WHARF_REGISTRY_USERNAME;
  const password = env.WHARF_REGISTRY_PASSWORD;
  return username && password ? { credentials: { username, password } } : {};
}

const workDirOption = (c: Command) =>
  c.option(
    '--work-dir <dir>',
    'work directory with image layouts and signatures (default: $WHARF_WORK_DIR, else .wharf/work)',
  );

function printVerify(r: VerifyResult): void {
  console.log(`${r.ref}${r.digest ? ` (${r.digest})` : ''}: ${r.valid ? 'signature valid' : 'INVALID'}`);
  for (const s of r.signatures)
    console.log(
      `  signature ${s.valid ? 'ok     ' : 'invalid'} ${s.dockerReference ?? ''}${s.reason ? ` — ${s.reason}` : ''}`,
    );
  for (const a of r.attestations)
    console.log(
      `  attestation ${a.valid ? 'ok     ' : 'invalid'} ${a.predicateType ?? ''}${a.reason ? ` — ${a.reason}` : ''}`,
    );
  for (const why of r.reasons) console.log(`  why: ${why}`);
  for (const m of r.manifests ?? []) {
    const arch = typeof m.platform?.architecture === 'string' ? m.platform.architecture : '?';
    console.log(
      `  ${arch} manifest ${m.digest ?? ''}: ${m.valid ? 'signature valid' : 'INVALID'}${m.attestations.some((a) => a.valid) ? ', provenance valid' : ''}`,
    );
  }
}

/**
 * A signature proves who signed a digest, not that it is the image the app published: when a catalog
 * is at hand, a digest other than the one the app's publish record holds makes the result invalid.
 */
async function checkAgainstCatalog(results: VerifyResult[], catalogFlag: string | undefined): Promise<void> {
  const { CatalogStore, resolveCatalogDir } = await import('../../catalog/store.ts');
  const { recordedImageFor } = await import('../../catalog/published.ts');
  // Only an explicitly named catalog (--catalog or $WHARF_CATALOG) is consulted.
  if (!catalogFlag && !process.env.WHARF_CATALOG) return;
  const store = await CatalogStore.open(resolveCatalogDir(catalogFlag)).catch(() => null);
  if (!store) return;
  const snap = await store.load();
  for (const r of results) {
    const rec = recordedImageFor(snap, r.ref);
    if (!rec?.digest || !r.digest || rec.digest === r.digest) continue;
    r.reasons.push(
      `digest ${r.digest} is not the one app ${rec.app} published for ${rec.tag} (${rec.digest})`,
    );
    r.valid = false;
  }
}

export default function register(program: Command): void {
  workDirOption(
    program
      .command('sign')
      .description(
        'sign built, verified images in cosign format and attach SLSA provenance (key: $WHARF_SIGNING_KEY or $WHARF_SIGNING_KEY_FILE)',
      )
      .argument('[targets...]', 'app or app:tag (default: all)')
      .option('--concurrency <n>', 'artifacts signed at the same time', '2')
      .addOption(catalogOption())
      .addOption(jsonOption()),
  ).action(async (args: string[], o: StageCommandOptions) => {
    await runStageCommand('sign', signStage, args, o);
  });

  workDirOption(
    program
      .command('verify')
      .description(
        'check the cosign signature (and provenance) of <image-ref>s with --key; exit 0 valid, 1 invalid. With app[:tag] arguments: run the smoke-test verify stage',
      )
      .argument('[refs...]', 'image references (registry/repo:tag or @sha256:…), or app[:tag]')
      .option('--key <pub.pem>', 'public key (PEM) to check signatures with')
      .option('--insecure', 'use http for the registry (default for loopback registries)')
      .option('--require-attestation', 'also require a valid provenance attestation')
      .option(
        '--engine <address>',
        'container engine for smoke tests (default: $DOCKER_HOST or the usual sockets)',
      )
      .option('--concurrency <n>', 'artifacts verified at the same time (smoke tests)', '2')
      .addOption(catalogOption())
      .addOption(jsonOption()),
  ).action(
    async (
      refs: string[],
      o: StageCommandOptions & {
        key?: string;
        insecure?: boolean;
        requireAttestation?: boolean;
        engine?: string;
      },
    ) => {
      const images = refs.filter(isExplicitImageRef);
      if (images.length && images.length !== refs.length)
        throw new UsageError('give either image references or app[:tag] names, not both');
      if (!images.length) {
        // Smoke tests (the verify stage), owned by publisher/verify.
        const { verifyStage } = await import('../../publisher/verify/index.ts');
        await runStageCommand('verify', verifyStage, refs, o, { needsEngine: true });
        return;
      }
      if (!o.key) throw new UsageError('--key <pub.pem> is required to verify image signatures');
      let pub;
      try {
        pub = parsePublicKey(await readFile(o.key, 'utf8'), o.key);
      } catch (e) {
        if (e instanceof SigningKeyError) throw new UsageError(e.message);
        throw new UsageError(
          `cannot read ${o.key}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        );
      }
      const results: VerifyResult[] = [];
      for (const ref of images) {
        try {
          results.push(
            await verifyImage(ref, pub, {
              insecure: o.insecure,
              requireAttestation: o.requireAttestation,
              client: registryCredentials(process.env),
            }),
          );
        } catch (e) {
          if (e instanceof RefError) throw new UsageError(e.message);
          results.push({
            ref,
            valid: false,
            reasons: [e instanceof Error ? e.message : String(e)],
            signatures: [],
            attestations: [],
          });
        }
      }
      await checkAgainstCatalog(results, o.catalog);
      const ok = results.every((r) => r.valid);
      if (o.json) printJson(results.length === 1 ? results[0] : results);
      else results.forEach(printVerify);
      if (!ok) process.exitCode = EXIT_FAIL;
    },
  );

  program
    .command('keygen')
    .description(
      `write a P-256 signing key pair: <prefix>.key (PKCS#8, encrypted when $${PASSWORD_ENV} is set) and <prefix>.pub`,
    )
    .requiredOption('--out <prefix>', 'path prefix, e.g. ./cosign')
    .option('--force', 'overwrite existing files')
    .addOption(jsonOption())
    .action(async (o: { out: string; force?: boolean; json?: boolean }) => {
      const pair = generateSigningKeyPair(process.env[PASSWORD_ENV] || undefined);
      const keyPath = resolve(`${o.out}.key`);
      const pubPath = resolve(`${o.out}.pub`);
      const flag = o.force ? 'w' : 'wx';
      try {
        await writeFile(keyPath, pair.privatePem, { mode: 0o600, flag });
        await writeFile(pubPath, pair.publicPem, { mode: 0o644, flag });
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST')
          throw new CommandFailed(
            `${(e as NodeJS.ErrnoException).path ?? 'file'} exists (use --force to overwrite)`,
          );
        throw e;
      }
      if (o.json) printJson({ privateKey: keyPath, publicKey: pubPath, keyId: pair.keyId });
      else console.log(`wrote ${keyPath} and ${pubPath}\nkey id ${pair.keyId}`);
    });
}
