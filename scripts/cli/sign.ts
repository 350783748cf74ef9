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
import pLimit from 'p-limit';
import { defaultBlobStore } from '../../catalog/blobs.ts';
import { newRunId } from '../../catalog/run-id.ts';
import type { CatalogStore } from '../../catalog/store.ts';
import { parseSelection, selectTargets } from '../../publisher/pipeline/index.ts';
import { isExplicitImageRef, RefError } from '../../publisher/registry/ref.ts';
import { runSign } from '../../publisher/sign/index.ts';
import {
  PASSWORD_ENV,
  generateSigningKeyPair,
  parsePublicKey,
  SigningKeyError,
} from '../../publisher/sign/keys.ts';
import { verifyImage, type VerifyResult } from '../../publisher/sign/verify.ts';
import type { StageContext, StageOutcome, StageRunner } from '../../publisher/stage.ts';
import {
  CommandFailed,
  EXIT_FAIL,
  UsageError,
  catalogOption,
  jsonOption,
  openCatalog,
  printJson,
  progress,
} from './common.ts';

export interface StageCommandOptions {
  catalog?: string;
  json?: boolean;
  workDir?: string;
  concurrency?: string;
}

export function stageContext(
  store: CatalogStore,
  config: StageContext['config'],
  o: StageCommandOptions,
  extra: Partial<StageContext> = {},
): StageContext {
  const quiet = !!o.json;
  return {
    store,
    config,
    runId: newRunId(),
    blobs: defaultBlobStore(store.dir),
    workDir: resolve(o.workDir ?? process.env.WHARF_WORK_DIR ?? '.wharf/work'),
    log: {
      info: (m) => (quiet ? undefined : console.error(m)),
      warn: (m) => (quiet ? undefined : console.error(`warning: ${m}`)),
    },
    ...extra,
  };
}

const BAD = new Set(['failed', 'partial', 'blocked', 'error', 'timeout']);

/** Run one stage over the selected artifacts with bounded concurrency; print, set the exit code. */
export async function runStageCommand(
  stage: string,
  runner: StageRunner,
  args: string[],
  o: StageCommandOptions,
  extra: Partial<StageContext> = {},
): Promise<StageOutcome[]> {
  const concurrency = Number(o.concurrency ?? '2');
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new UsageError('--concurrency must be a positive integer');
  const selection = parseSelection(args);
  const store = await openCatalog(o);
  const snap = await store.load();
  const { targets, problems } = selectTargets(snap, selection);
  if (problems.length && selection.length)
    throw new CommandFailed(problems.join('; '), EXIT_FAIL, { problems });
  const ctx = stageContext(store, snap.config, o, extra);
  const bar = progress(!o.json);
  bar.start(targets.length, stage);
  const limit = pLimit(concurrency);
  const outcomes = await Promise.all(
    targets.map((t) =>
      limit(async () => {
        let out: StageOutcome;
        try {
          out = await runner(ctx, t);
        } catch (e) {
          out = {
            stage: stage as StageOutcome['stage'],
            app: t.app.id,
            artifactId: t.artifactId,
            status: 'error',
            commit: null,
            durationMs: 0,
            message: e instanceof Error ? e.message : String(e),
          };
        }
        bar.tick(`${t.app.id}:${t.artifactId}`);
        return out;
      }),
    ),
  );
  bar.stop();
  const bad = outcomes.filter((x) => BAD.has(x.status));
  if (o.json) printJson({ runId: ctx.runId, stage, outcomes, problems });
  else {
    for (const x of outcomes)
      console.log(`${`${x.app}:${x.artifactId}`.padEnd(44)} ${x.status.padEnd(10)} ${x.message ?? ''}`);
    console.log(`${stage}: ${outcomes.length} artifacts, ${bad.length} failed, partial or blocked`);
  }
  if (bad.length) process.exitCode = EXIT_FAIL;
  return outcomes;
}

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
    await runStageCommand('sign', runSign, args, o);
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
        const { runVerify } = await import('../../publisher/verify/index.ts');
        const { connectEngine } = await import('../../publisher/engine/index.ts');
        await runStageCommand('verify', runVerify, refs, o, { engine: connectEngine(o.engine).engine });
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
