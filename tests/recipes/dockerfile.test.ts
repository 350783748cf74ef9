// The Dockerfile analysis module (catalog/dockerfile): Docker's rules for stages, global ARGs in FROM,
// FROM <stage>, COPY --from, ARG defaults, platform ARGs, Distrofiles and bad input, on small
// Dockerfiles and on every recipe file of the shipped openEuler sample.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  analyseDistrofile,
  analyseDockerfile,
  analyseRecipeFile,
  builderOf,
  substitute,
} from '../../catalog/dockerfile/index.ts';

const SEED = join(import.meta.dirname, '../../catalog/seed/openeuler-images');
const df = (...lines: string[]) => lines.join('\n') + '\n';

describe('Dockerfile analysis', () => {
  it('substitutes global ARG defaults in FROM, as Docker does with no build args', () => {
    const r = analyseDockerfile(
      df('ARG BASE=openeuler/openeuler:24.03-lts-sp1', 'FROM ${BASE}', 'ARG VERSION=8.6.4', 'RUN echo'),
    );
    expect(r.problems).toEqual([]);
    expect(r.stages).toEqual([
      {
        from: '${BASE}',
        resolved: 'openeuler/openeuler:24.03-lts-sp1',
        name: null,
        parentStage: null,
        line: 2,
      },
    ]);
    expect(r.base).toBe('openeuler/openeuler:24.03-lts-sp1');
    expect(r.args).toEqual({ BASE: 'openeuler/openeuler:24.03-lts-sp1', VERSION: '8.6.4' });
    expect(r.globalArgs).toEqual({ BASE: 'openeuler/openeuler:24.03-lts-sp1' });
  });

  it('build args override only declared defaults; $VAR, ${VAR:-x}, ${VAR:+x} and quotes work', () => {
    const text = df('ARG BASE="openeuler/python:3.11"', 'ARG REG', 'FROM ${REG:-docker.io}/$BASE');
    expect(analyseDockerfile(text).base).toBe('docker.io/openeuler/python:3.11');
    expect(analyseDockerfile(text, { buildArgs: { REG: 'quay.io', BASE: 'x/y:1' } }).base).toBe(
      'quay.io/x/y:1',
    );
    expect(analyseDockerfile(text, { buildArgs: { OTHER: 'z' } }).base).toBe(
      'docker.io/openeuler/python:3.11',
    );
    expect(substitute('${A:+set}-${B+b}-\\$A', (n) => (n === 'A' ? '1' : undefined)).value).toBe('set--$A');
    expect(substitute('${A:?need A}', () => undefined).error).toBe('A: need A');
  });

  it('follows FROM <stage> (case-insensitively) and records COPY --from stages and images', () => {
    const r = analyseDockerfile(
      df(
        'ARG BASE=openeuler/openeuler:22.03-lts-sp4',
        'FROM ${BASE} as BUILDER',
        'RUN make',
        'FROM openeuler/go:1.22 AS tools',
        'FROM builder AS release',
        'COPY --from=BUILDER /out /out',
        'COPY --from=1 /go /go',
        'COPY --from=docker.io/library/busybox:1.36 /bin/busybox /bin/',
      ),
    );
    expect(r.problems).toEqual([]);
    expect(r.stages.map((s) => [s.from, s.resolved, s.name, s.parentStage])).toEqual([
      ['${BASE}', 'openeuler/openeuler:22.03-lts-sp4', 'builder', null],
      ['openeuler/go:1.22', 'openeuler/go:1.22', 'tools', null],
      ['builder', 'openeuler/openeuler:22.03-lts-sp4', 'release', 0],
    ]);
    expect(r.base).toBe('openeuler/openeuler:22.03-lts-sp4');
    expect(r.copyFrom.map((c) => [c.line, c.fromStage, c.image])).toEqual([
      [6, 0, null],
      [7, 1, null],
      [8, null, 'docker.io/library/busybox:1.36'],
    ]);
    expect(r.bases).toEqual([
      'openeuler/openeuler:22.03-lts-sp4',
      'openeuler/go:1.22',
      'docker.io/library/busybox:1.36',
    ]);
  });

  it('a stage sees global ARGs only when it re-declares them; TARGETARCH use is recorded', () => {
    const r = analyseDockerfile(
      df(
        'ARG BASE=openeuler/openeuler:24.03-lts',
        'ARG STAGE=builder',
        'FROM ${BASE} AS builder',
        'FROM ${BASE}',
        'ARG STAGE',
        'ARG TARGETARCH',
        'COPY --from=${STAGE} /a /b',
        'RUN curl -o x-${TARGETARCH}.tgz https://example.org/',
      ),
    );
    expect(r.problems).toEqual([]);
    expect(r.copyFrom[0]).toMatchObject({ fromStage: 0, image: null });
    expect(r.usesTargetArch).toBe(true);
    expect(r.usesTargetPlatform).toBe(false);
    expect(r.args).toEqual({ BASE: 'openeuler/openeuler:24.03-lts', STAGE: 'builder', TARGETARCH: null });
  });

  it('platform ARGs in FROM resolve per platform, and are a problem without one', () => {
    const text = df('FROM openeuler/base-${TARGETARCH}:1');
    expect(analyseDockerfile(text, { platform: 'linux/arm64' }).base).toBe('openeuler/base-arm64:1');
    const r = analyseDockerfile(text);
    expect(r.base).toBeNull();
    expect(r.problems[0]).toMatchObject({
      line: 1,
      message: expect.stringMatching(/TARGETARCH has no value/),
    });
  });

  it('reports bad input with its line and keeps going', () => {
    const r = analyseDockerfile(
      df(
        'RUN echo before',
        'ARG NOVALUE',
        'FROM ${NOVALUE}',
        'FROMM typo',
        'FROM a AS x',
        'FROM b AS X',
        'FROM',
      ),
    );
    expect(r.problems.map((p) => [p.line, p.message.split(':')[0]])).toEqual([
      [1, 'RUN before the first FROM (only ARG may come before it)'],
      [3, 'FROM ${NOVALUE}'],
      [4, 'unknown instruction "FROMM"'],
      [6, 'duplicate stage name "X"'],
      [7, 'FROM without an image'],
    ]);
    expect(r.problems[1]!.message).toMatch(/variable NOVALUE has no value/);
    expect(r.stages.map((s) => s.resolved)).toEqual([null, 'a', 'b', null]);
    expect(r.base).toBeNull();
    expect(analyseDockerfile('').problems).toEqual([
      { line: 1, message: 'no instructions (empty Dockerfile)' },
    ]);
    expect(analyseDockerfile('# only a comment\n').problems[0]!.message).toMatch(/no instructions/);
    expect(analyseDockerfile('ARG A=1\n').problems).toEqual([{ line: 1, message: 'no FROM instruction' }]);
    expect(analyseDockerfile('FROM a\n\0\0').problems[0]!.message).toMatch(/NUL/);
    expect(analyseDockerfile('FROM ${X\n').problems[0]!.message).toMatch(/unterminated/);
    expect(analyseDockerfile('FROM UPPER/Case\n').problems[0]!.message).toMatch(/not an image reference/);
  });

  it('recognises Distrofiles as a YAML spec that Wharf does not build', () => {
    expect(builderOf('Distroless/distroless-python/3.11.6/24.03-lts/Distrofile')).toBe('distrofile');
    expect(builderOf('x/Dockerfile')).toBe('dockerfile');
    const r = analyseDistrofile('name: x\nbase: scratch\nparts:\n  - a\n');
    expect(r).toMatchObject({ builder: 'distrofile', base: 'scratch', bases: [] });
    expect(r.stages).toEqual([
      { from: 'scratch', resolved: 'scratch', name: null, parentStage: null, line: 2 },
    ]);
    expect(r.problems[0]!.message).toMatch(/not buildable by Wharf/);
    expect(analyseDistrofile('a: [\n').problems[0]!.message).toMatch(/invalid YAML/);
  });

  it('reads every recipe shape of the shipped sample', async () => {
    const read = (p: string) => readFile(join(SEED, p), 'utf8');
    const at = async (p: string) => analyseRecipeFile(p, await read(p));
    // OS base through ARG BASE + FROM ${BASE}, ARG VERSION default
    const redis = await at('Database/redis/7.4.1/24.03-lts/Dockerfile');
    expect(redis).toMatchObject({
      builder: 'dockerfile',
      base: 'openeuler/openeuler:24.03-lts',
      problems: [],
    });
    // another image as base (openeuler/npmjs)
    expect((await at('Others/catj/1.0.4/24.03-lts-sp4/Dockerfile')).base).toBe('openeuler/npmjs:latest');
    // multi-stage
    const es = await at('Bigdata/elasticsearch/9.3.4/24.03-lts-sp4/Dockerfile');
    expect(es.stages.length).toBe(2);
    expect(es.problems).toEqual([]);
    // Distrofile
    expect((await at('Distroless/distroless-python/3.11.6/24.03-lts/Distrofile')).builder).toBe('distrofile');
  });
});
