// The build stage's plan from a Dockerfile (publisher/build/args.ts): which build args reach the engine
// and which base each stage is built FROM, with the engine's digest lookups recorded (no engine here:
// the resolver answers from a table and remembers what it was asked).
import { describe, expect, it } from 'vitest';
import { changedBase, osMirror, planBuild, type PlanInput } from '../../publisher/build/args.ts';

const D = (c: string) => `sha256:${c.repeat(64)}`;
const df = (...lines: string[]) => lines.join('\n') + '\n';

function plan(text: string, o: Partial<PlanInput> = {}, digests: Record<string, string> = {}) {
  const asked: string[] = [];
  const p = planBuild({
    path: 'Base/app/1.0/24.03-lts-sp4/Dockerfile',
    text,
    recipe: { version: '1.0', osVersion: '24.03-lts-sp4' },
    config: { baseImages: {} },
    arch: 'amd64',
    wharfBase: async () => undefined,
    resolve: async (ref) => {
      asked.push(ref);
      const d = digests[ref];
      return d ? { digest: d, local: false } : { digest: D('0'), local: true };
    },
    ...o,
  });
  return p.then((r) => ({ ...r, asked }));
}

describe('build args from the Dockerfile', () => {
  it('keeps the author defaults: BASE is pinned to the digest of the very image it names, VERSION is not passed', async () => {
    const r = await plan(
      df(
        'ARG BASE=openeuler/openeuler:24.03-lts-sp1',
        'FROM ${BASE}',
        'ARG VERSION=v1.2',
        'RUN echo $VERSION',
      ),
      { recipe: { version: '1.2', osVersion: '24.03-lts-sp1' } },
      { 'openeuler/openeuler:24.03-lts-sp1': D('a') },
    );
    expect(r.buildArgs).toEqual({ BASE: `openeuler/openeuler:24.03-lts-sp1@${D('a')}` });
    expect(r.bases).toEqual([{ ref: 'openeuler/openeuler:24.03-lts-sp1', digest: D('a'), stages: [0] }]);
    // What the engine will resolve: the pinned reference.
    expect(r.facts.base).toBe(`openeuler/openeuler:24.03-lts-sp1@${D('a')}`);
  });

  it('passes only declared ARGs: VERSION and BASE fill in declarations without default, TARGETARCH per platform', async () => {
    const text = df(
      'ARG BASE',
      'FROM $BASE',
      'ARG VERSION',
      'ARG TARGETARCH',
      'RUN echo $VERSION $TARGETARCH',
    );
    const r = await plan(
      text,
      {
        config: { baseImages: { '24.03-lts-sp4': 'mirror.example/openeuler/openeuler:24.03-lts-sp4' } },
        recipe: {
          version: '1.0',
          osVersion: '24.03-lts-sp4',
          buildArgs: { UNDECLARED: 'x', VERSION: '1.0.1' },
        },
        arch: 'arm64',
      },
      { 'mirror.example/openeuler/openeuler:24.03-lts-sp4': D('b') },
    );
    expect(r.buildArgs).toEqual({
      BASE: `mirror.example/openeuler/openeuler:24.03-lts-sp4@${D('b')}`,
      VERSION: '1.0.1', // an explicit recipe build arg (a derived recipe's new version) is passed
      TARGETARCH: 'arm64',
    });
    const noBase = plan(text, { recipe: { version: '1.0', osVersion: '22.03-lts' } });
    await expect(noBase).rejects.toThrow(
      /Dockerfile:2: FROM \$BASE: variable BASE has no value.*ARG BASE has no default and wharf.yml baseImages has no entry for 22\.03-lts/,
    );
  });

  it('another image as base is never replaced by the OS image; the OS image may come from its baseImages mirror', async () => {
    const config = { baseImages: { '24.03-lts-sp4': 'r.local:5000/openeuler/openeuler:24.03-lts-sp4' } };
    const other = await plan(df('ARG BASE=openeuler/npmjs:latest', 'FROM ${BASE}'), { config });
    expect(other.asked).toEqual(['openeuler/npmjs:latest']);
    expect(other.bases[0]).toMatchObject({ ref: 'openeuler/npmjs:latest', stages: [0] });
    expect(other.bases[0]!.used).toBeUndefined();
    // Only a local image could be had: built by name, nothing passed.
    expect(other.buildArgs).toEqual({});
    const os = await plan(
      df('ARG BASE=docker.io/openeuler/openeuler:24.03-lts-sp4', 'FROM ${BASE}'),
      { config },
      { 'r.local:5000/openeuler/openeuler:24.03-lts-sp4': D('c') },
    );
    expect(os.bases).toEqual([
      {
        ref: 'docker.io/openeuler/openeuler:24.03-lts-sp4',
        used: 'r.local:5000/openeuler/openeuler:24.03-lts-sp4',
        digest: D('c'),
        stages: [0],
      },
    ]);
    expect(os.buildArgs.BASE).toBe(`r.local:5000/openeuler/openeuler:24.03-lts-sp4@${D('c')}`);
    expect(osMirror('openeuler/openeuler:24.03-lts-sp4@' + D('1'), config.baseImages)).toBeUndefined();
  });

  it('a literal FROM is built as written (resolved, never redirected)', async () => {
    const r = await plan(
      df('FROM openeuler/openeuler:24.03-lts-sp4', 'RUN true'),
      { config: { baseImages: { '24.03-lts-sp4': 'r.local/openeuler/openeuler:24.03-lts-sp4' } } },
      { 'openeuler/openeuler:24.03-lts-sp4': D('d') },
    );
    expect(r.asked).toEqual(['openeuler/openeuler:24.03-lts-sp4']);
    expect(r.buildArgs).toEqual({});
    expect(r.bases).toEqual([{ ref: 'openeuler/openeuler:24.03-lts-sp4', digest: D('d'), stages: [0] }]);
  });

  it('multi-stage: every stage base and COPY --from image is resolved; FROM <stage> is followed; a Wharf-built parent is used as Wharf published it', async () => {
    const parent = 'reg.local/wharf/python:3.11-oe2403sp4';
    const r = await plan(
      df(
        'ARG BUILDER=openeuler/openeuler:24.03-lts-sp4',
        'ARG BASE=openeuler/python:3.11-oe2403sp4',
        'FROM ${BUILDER} AS build',
        'RUN make',
        'FROM build AS test',
        'RUN make test',
        'FROM ${BASE}',
        'COPY --from=build /out /out',
        'COPY --from=openeuler/busybox:1 /bin/busybox /bin/busybox',
      ),
      {
        wharfBase: async (ref) =>
          ref === 'openeuler/python:3.11-oe2403sp4'
            ? { app: 'python', tag: '3.11-oe2403sp4', used: `${parent}@${D('e')}` }
            : undefined,
      },
      {
        'openeuler/openeuler:24.03-lts-sp4': D('f'),
        [`${parent}@${D('e')}`]: D('e'),
        'openeuler/busybox:1': D('9'),
      },
    );
    expect(r.bases).toEqual([
      { ref: 'openeuler/openeuler:24.03-lts-sp4', digest: D('f'), stages: [0] },
      {
        ref: 'openeuler/python:3.11-oe2403sp4',
        used: `${parent}@${D('e')}`,
        digest: D('e'),
        stages: [2],
        app: 'python',
        tag: '3.11-oe2403sp4',
      },
      { ref: 'openeuler/busybox:1', digest: D('9') },
    ]);
    expect(r.buildArgs).toEqual({
      BUILDER: `openeuler/openeuler:24.03-lts-sp4@${D('f')}`,
      BASE: `${parent}@${D('e')}`,
    });
    expect(r.facts.stages.map((s) => s.resolved)).toEqual([
      `openeuler/openeuler:24.03-lts-sp4@${D('f')}`,
      `openeuler/openeuler:24.03-lts-sp4@${D('f')}`,
      `${parent}@${D('e')}`,
    ]);
  });

  it('FROM scratch has no base; a Distrofile and an unparsable recipe are refused with file:line', async () => {
    const s = await plan(df('FROM scratch', 'ARG TARGETARCH', 'COPY ${TARGETARCH}/x /x'), { arch: 'arm64' });
    expect(s.bases).toEqual([]);
    expect(s.buildArgs).toEqual({ TARGETARCH: 'arm64' });
    await expect(
      planBuild({
        path: 'Distroless/base/Distrofile',
        text: 'base: scratch\n',
        recipe: { version: '1', osVersion: '24.03-lts' },
        config: { baseImages: {} },
        arch: 'amd64',
        wharfBase: async () => undefined,
        resolve: async () => ({ digest: D('0'), local: true }),
      }),
    ).rejects.toThrow(/Distrofile: a Distroless Distrofile.*not buildable/);
    await expect(plan(df('FROM ${NOPE}'))).rejects.toThrow(
      /Dockerfile:1: FROM \$\{NOPE\}: variable NOPE has no value/,
    );
  });

  it('changedBase names the first base whose digest moved', () => {
    const prev = [
      { ref: 'a', digest: D('1') },
      { ref: 'b', digest: D('2') },
    ];
    expect(
      changedBase(prev, [
        { ref: 'a', digest: D('1') },
        { ref: 'b', digest: D('3') },
      ]),
    ).toMatchObject({ ref: 'b' });
    expect(changedBase(prev, prev)).toBeUndefined();
    expect(changedBase(undefined, prev)).toBeUndefined();
  });
});
