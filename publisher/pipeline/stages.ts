// Which stage functions each image kind has. Container images, WSL images (publisher/wsl) and cloud
// disk images (publisher/cloud) have all five, and cloud images a sixth, import (publisher/cloud/providers); a kind with no stages is reported "skipped" by the
// pipeline, never half-built.
import type { ImageKind, Stage } from '../../catalog/schema.ts';
import {
  cloudBuildStage,
  cloudPublishStage,
  makeCloudScanStage,
  cloudSignStage,
  cloudVerifyStage,
} from '../cloud/stages.ts';
import { cloudImportStage } from '../cloud/providers/stage.ts';
import { makeBuildStage, type BuildStageOptions } from '../build/index.ts';
import { makePublish, type PublishOptions } from '../publish/index.ts';
import { createScanRunner, type ScanStageOptions } from '../scan/index.ts';
import { perArchScan } from '../scan/arches.ts';
import { signStage } from '../sign/index.ts';
import type { StageFn } from '../stage.ts';
import { makeVerifyStage, type VerifyStageOptions } from '../verify/index.ts';
import {
  createWslScanStage,
  wslBuildStage,
  wslPublishStage,
  wslSignStage,
  wslVerifyStage,
} from '../wsl/stages.ts';

export type StageTable = Record<ImageKind, Partial<Record<Stage, StageFn>>>;

export interface StageTableOptions {
  build?: BuildStageOptions;
  verify?: VerifyStageOptions;
  scan?: ScanStageOptions;
  publish?: PublishOptions;
}

/**
 * Cloud publish, then import: with `clouds:` targets in wharf.yml a published cloud image is not
 * complete until the import stage has run, so publish's `complete` is dropped for it, and a publish that
 * would clear the pending mark leaves `import not started` instead. The import stage commits its own
 * record later; a process killed between the two commits leaves the artifact pending (so the next
 * pipeline run, even without a container engine, imports it) rather than published and never imported.
 */
export function importAfterPublish(publish: StageFn<'publish'>): StageFn<'publish'> {
  return async (ctx, t) => {
    const r = await publish(ctx, t);
    if (!ctx.config.clouds?.length) return r;
    const { complete: _complete, ...rest } = r;
    if (rest.write?.pending !== 'clear') return rest;
    const since = rest.write.record.at;
    return { ...rest, write: { ...rest.write, pending: { set: 'import not started', since } } };
  };
}

/** The stage functions of one run (a build stage shares its checkouts and base digests across targets). */
export function defaultStages(opts: StageTableOptions = {}): StageTable {
  return {
    container: {
      build: makeBuildStage(opts.build),
      verify: makeVerifyStage(opts.verify),
      scan: perArchScan(createScanRunner(opts.scan), opts.scan),
      sign: signStage,
      publish: makePublish(opts.publish),
    },
    wsl: {
      build: wslBuildStage,
      verify: wslVerifyStage,
      scan: createWslScanStage(opts.scan),
      sign: wslSignStage,
      publish: wslPublishStage,
    },
    cloud: {
      build: cloudBuildStage,
      verify: cloudVerifyStage,
      scan: makeCloudScanStage(opts.scan),
      sign: cloudSignStage,
      publish: importAfterPublish(cloudPublishStage),
      import: cloudImportStage,
    },
  };
}
