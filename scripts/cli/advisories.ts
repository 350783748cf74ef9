// `wharf advisories sync|show|stats` (the openEuler advisory feed mirror) and `wharf scan packages|match`
// (installed RPMs of a rootfs or OCI layout, matched against it); `wharf scan report <app>:<tag>
// --format openeuler-md|json` is reportCommand below. Thin shell over publisher/advisories.
import { writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { defaultBlobStore } from '../../catalog/blobs.ts';
import { assertAppId, assertTag } from '../../catalog/names.ts';
import { CatalogStore, resolveCatalogDir } from '../../catalog/store.ts';
import { imageLayoutDir } from '../../publisher/stage.ts';
import type { AdvisoriesConfig } from '../../publisher/advisories/index.ts';

type Lib = typeof import('../../publisher/advisories/index.ts');
let libP: Promise<Lib> | undefined;
/** Loaded on first use: every other command's start-up does not pay for the XML parser and CycloneDX. */
const lib = () => (libP ??= import('../../publisher/advisories/index.ts'));
import { CommandFailed, EXIT_FAIL, UsageError, catalogOption, jsonOption, printJson } from './common.ts';

interface Opts {
  catalog?: string;
  json?: boolean;
  url?: string;
  dir?: string;
  advisories?: string;
  revalidate?: boolean;
}

/** The catalog's advisories section, when the catalog exists (a missing catalog means defaults). */
async function catalogAdvisories(o: Opts): Promise<{ catalogDir: string; cfg: AdvisoriesConfig }> {
  const L = await lib();
  const catalogDir = resolveCatalogDir(o.catalog);
  let raw: unknown;
  try {
    raw = (await (await CatalogStore.open(catalogDir)).config()).advisories;
  } catch (e) {
    if (o.catalog || !/is not a catalog/.test((e as Error).message)) throw e;
  }
  return { catalogDir, cfg: L.parseAdvisoriesConfig(raw) };
}

async function indexDir(o: Opts): Promise<{ dir: string; cfg: AdvisoriesConfig }> {
  const L = await lib();
  const explicit = o.advisories ?? o.dir ?? process.env.WHARF_ADVISORIES_DIR;
  const { catalogDir, cfg } = await catalogAdvisories(o);
  return { dir: explicit ? resolve(explicit) : L.advisoriesDir(catalogDir, cfg), cfg };
}

const known = (L: Lib, e: unknown) =>
  e instanceof L.FeedError || e instanceof L.PackageReadError || e instanceof L.AdvisoryScanError;

async function guarded<T>(f: () => Promise<T>): Promise<T> {
  const L = await lib();
  try {
    return await f();
  } catch (e) {
    if (known(L, e))
      throw new CommandFailed((e as Error).message, EXIT_FAIL, { error: (e as Error).message });
    throw e;
  }
}

/** The advisory index directory ignores itself, so a catalog's git status stays clean. */
async function ignoreSelf(dir: string): Promise<void> {
  await writeFile(join(dir, '.gitignore'), '*\n');
}

export default function register(program: Command): void {
  const adv = program
    .command('advisories')
    .description("openEuler's security advisories (CVRF): mirror the feed, look advisories up");

  adv
    .command('sync')
    .description(
      'mirror the advisory feed incrementally (conditional requests; only new documents are fetched)',
    )
    .option(
      '--url <url>',
      'feed base URL holding index.txt (default: wharf.yml advisories.url, else openEuler’s)',
    )
    .option(
      '--dir <dir>',
      'local index directory (default: $WHARF_ADVISORIES_DIR, else <catalog>/.wharf-advisories)',
    )
    .option('--revalidate', 're-check every known document with a conditional request')
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(async (o: Opts) =>
      guarded(async () => {
        const L = await lib();
        const { dir, cfg } = await indexDir(o);
        const url = o.url ?? process.env.WHARF_ADVISORIES_URL ?? cfg.url;
        const r = await L.syncFeed({ url, dir, revalidate: Boolean(o.revalidate) });
        await ignoreSelf(dir);
        if (o.json) printJson(r);
        else {
          for (const p of r.problems) console.error(`problem: ${p}`);
          console.log(
            `${r.url}: ${r.advisories} advisories from ${r.documents} documents; ${r.fetched} fetched, ${r.notModified} not modified, ${r.unchanged} unchanged; +${r.added.length} ~${r.updated.length} -${r.removed.length}; ${r.requests} requests in ${r.durationMs} ms`,
          );
        }
      }),
    );

  adv
    .command('show')
    .description('one advisory from the local index')
    .argument('<id>', 'advisory id, e.g. openEuler-SA-2024-1488')
    .option('--dir <dir>', 'local index directory')
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(async (id: string, o: Opts) =>
      guarded(async () => {
        const L = await lib();
        if (!/^openEuler-[A-Z]{2}-\d{4}-\d{1,6}$/.test(id))
          throw new UsageError(`${JSON.stringify(id)} is not an advisory id (openEuler-SA-YYYY-NNNN)`);
        const { dir } = await indexDir(o);
        const idx = await L.loadIndex(dir);
        if (!idx)
          throw new L.AdvisoryScanError(`no advisory index in ${dir}: run \`wharf advisories sync\` first`);
        const a = idx.advisories[id];
        if (!a)
          throw new CommandFailed(`${id} is not in the index (${dir})`, EXIT_FAIL, {
            error: `${id} not found`,
          });
        const fixed = a.fixed.map(([release, arch, name, evr]) => ({ release, arch, name, fixed: evr }));
        if (o.json) printJson({ ...a, fixed, url: L.bulletinUrl(a.id) });
        else {
          console.log(`${a.id}  ${a.severity}${a.cvss !== undefined ? ` (CVSS ${a.cvss})` : ''}  ${a.title}`);
          console.log(`  ${L.bulletinUrl(a.id)}`);
          for (const c of a.cves)
            console.log(`  ${c.id} ${c.severity}${c.cvss !== undefined ? ` ${c.cvss}` : ''}`);
          for (const f of fixed)
            console.log(`  ${f.release.padEnd(16)} ${f.arch.padEnd(8)} ${f.name}-${f.fixed}`);
        }
      }),
    );

  adv
    .command('stats')
    .description('what the local index holds, and how old it is')
    .option('--dir <dir>', 'local index directory')
    .addOption(catalogOption())
    .addOption(jsonOption())
    .action(async (o: Opts) =>
      guarded(async () => {
        const L = await lib();
        const { dir } = await indexDir(o);
        const idx = await L.loadIndex(dir);
        if (!idx)
          throw new L.AdvisoryScanError(`no advisory index in ${dir}: run \`wharf advisories sync\` first`);
        const s = L.feedStats(idx);
        if (o.json) printJson({ dir, ...s });
        else {
          console.log(`${s.url} synced ${s.syncedAt} (${s.ageHours} h ago)`);
          console.log(
            `${s.advisories} advisories, ${s.cves} CVEs, ${s.fixedPackages} fixed packages, ${s.documents} documents (${s.failedDocuments} failed)`,
          );
          for (const [r, n] of Object.entries(s.releases)) console.log(`  ${r.padEnd(16)} ${n}`);
        }
      }),
    );

  const scan = program.commands.find((c) => c.name() === 'scan');
  if (!scan) throw new Error('the scan command must be registered before the advisories commands');

  scan
    .command('packages')
    .description('installed RPM packages of a root filesystem directory or an OCI image layout')
    .argument('<target>', 'rootfs directory or OCI layout directory')
    .option('--arch <arch>', 'platform arch of a rootfs (default: inferred from the packages)')
    .option(
      '--sbom <file>',
      'also write a CycloneDX 1.6 SBOM (one per arch: <file> gets -<arch> when several)',
    )
    .option('--os <release>', 'OS release for the SBOM purls, e.g. 24.03-LTS-SP4')
    .option('--store', 'store the SBOM in the catalog’s blob store and print its ref')
    .addOption(jsonOption())
    .action(async (target: string, _o: unknown, cmd: Command) =>
      guarded(async () => {
        const L = await lib();
        const o = cmd.optsWithGlobals<
          Opts & { arch?: string; sbom?: string; os?: string; store?: boolean }
        >();
        if (o.os && !L.normalizeRelease(o.os))
          throw new UsageError(`--os ${JSON.stringify(o.os)} is not an openEuler release`);
        const sets = await L.readPackages(resolve(target), o.arch ? { arch: o.arch } : {});
        const sboms: { arch: string; file?: string; ref?: unknown }[] = [];
        if (o.sbom || o.store) {
          const blobs = o.store ? defaultBlobStore(resolveCatalogDir(o.catalog)) : undefined;
          for (const s of sets) {
            const text = L.buildSbom({
              packages: s.packages,
              subject: target,
              arch: s.arch,
              ...(o.os ? { release: o.os } : {}),
            });
            const file = o.sbom
              ? sets.length > 1
                ? o.sbom.replace(/(\.json)?$/, `-${s.arch}$1`)
                : o.sbom
              : undefined;
            if (file) await writeFile(file, text);
            sboms.push({
              arch: s.arch,
              ...(file ? { file } : {}),
              ...(blobs ? { ref: await L.putSbom(blobs, text) } : {}),
            });
          }
        }
        if (o.json)
          printJson({
            target,
            images: sets.map((s) => ({
              arch: s.arch,
              ...(s.manifest ? { manifest: s.manifest } : {}),
              ...(s.rpmdb ? { rpmdb: s.rpmdb, format: s.format } : { noRpmdb: s.noRpmdb }),
              packages: s.packages,
            })),
            ...(sboms.length ? { sboms } : {}),
          });
        else
          for (const s of sets) {
            console.log(
              `${s.arch}${s.manifest ? ` ${s.manifest}` : ''}: ${s.noRpmdb ?? `${s.packages.length} packages (${s.rpmdb})`}`,
            );
            for (const p of s.packages)
              console.log(
                `  ${p.name.padEnd(32)} ${(p.epoch ? `${p.epoch}:` : '') + `${p.version}-${p.release}`.padEnd(28)} ${p.arch}`,
              );
          }
      }),
    );

  scan
    .command('match')
    .description('match a rootfs or OCI layout’s RPM packages against the local openEuler advisory index')
    .argument('<target>', 'rootfs directory or OCI layout directory')
    .requiredOption('--os <release>', 'openEuler release of the image, e.g. 22.03-LTS-SP2')
    .option(
      '--advisories <dir>',
      'local advisory index (default: $WHARF_ADVISORIES_DIR, else <catalog>/.wharf-advisories)',
    )
    .option('--arch <arch>', 'platform arch of a rootfs (default: inferred from the packages)')
    .option('--format <format>', 'text, json or openeuler-md', 'text')
    .addOption(jsonOption())
    .action(async (target: string, _o: unknown, cmd: Command) =>
      guarded(async () => {
        const L = await lib();
        const o = cmd.optsWithGlobals<Opts & { os: string; arch?: string; format: string }>();
        const format = o.json ? 'json' : o.format;
        if (!['text', 'json', 'openeuler-md'].includes(format))
          throw new UsageError(`--format must be text, json or openeuler-md`);
        if (!L.normalizeRelease(o.os))
          throw new UsageError(
            `--os ${JSON.stringify(o.os)} is not an openEuler release (e.g. 22.03-LTS-SP2)`,
          );
        const { dir } = await indexDir(o);
        const r = await L.matchTarget(resolve(target), o.os, dir, o.arch ? { arch: o.arch } : {});
        const findings = r.arches.flatMap((a) => a.findings.map((f) => ({ ...f, image: a.arch })));
        if (format === 'json') printJson({ ...r, findings });
        else if (format === 'openeuler-md') process.stdout.write(L.openEulerMarkdown(r));
        else {
          if (!r.coverage.osScanned) console.error(`warning: ${r.coverage.summary}`);
          for (const a of r.arches) {
            console.log(`${a.arch}: ${a.noRpmdb ?? `${a.packages} packages`}, ${a.findings.length} findings`);
            for (const f of a.findings)
              console.log(
                `  ${f.severity.padEnd(8)} ${f.advisory.padEnd(24)} ${f.package.padEnd(28)} ${f.installed.padEnd(24)} ${f.fixed}`,
              );
          }
          console.log(r.coverage.summary);
        }
      }),
    );
}

/** `wharf scan report <app>:<tag> --format openeuler-md|json` (called by scan.ts's report command). */
export async function reportCommand(
  arg: string,
  o: Opts & { format: string; workDir?: string; out?: string; timeZone?: string },
): Promise<void> {
  if (!['openeuler-md', 'json'].includes(o.format))
    throw new UsageError('--format must be openeuler-md or json');
  const i = arg.indexOf(':');
  if (i < 0) throw new UsageError(`${JSON.stringify(arg)}: expected <app>:<tag>`);
  const app = assertAppId(arg.slice(0, i));
  const tag = assertTag(arg.slice(i + 1));
  await guarded(async () => {
    const L = await lib();
    const store = await CatalogStore.open(resolveCatalogDir(o.catalog));
    const { dir } = await indexDir(o);
    const workDir = resolve(o.workDir ?? process.env.WHARF_WORK_DIR ?? '.wharf/work');
    const r = await L.appReport(store, defaultBlobStore(store.dir), {
      app,
      tag,
      advisoriesDir: dir,
      layoutDir: (a, t) => imageLayoutDir({ workDir }, a, t),
    });
    const text = o.format === 'json' ? JSON.stringify(r, null, 2) + '\n' : L.openEulerMarkdown(r, o.timeZone);
    if (o.out) await writeFile(o.out, text);
    else process.stdout.write(text);
    if (!r.coverage.osScanned) process.stderr.write(`warning: ${app}:${tag}: ${r.coverage.summary}\n`);
  });
}
