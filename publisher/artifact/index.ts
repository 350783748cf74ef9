// What the stages share about one artifact, so that no stage folder imports another: reading its current
// record, the local image name the build gives it, and small text helpers for records. The publish gate
// lives in gate.ts, the signature layout sign leaves for publish in signatures.ts.
import { assertAppId, assertTag } from '../../catalog/names.ts';
import type { Artifact } from '../../catalog/schema.ts';
import type { StageContext, StageTarget } from '../stage.ts';

export { imageGate, publishGate, type GateResult } from './gate.ts';

/** The target's artifact record as committed now (not as the target was selected). */
export async function loadArtifact(
  ctx: Pick<StageContext, 'store'>,
  t: Pick<StageTarget, 'app' | 'kind' | 'artifactId'>,
): Promise<Artifact | undefined> {
  const entry = await ctx.store.loadApp(t.app.id);
  return entry?.artifacts.find((a) => a.kind === t.kind && a.id === t.artifactId);
}

/** Local image name of a build (the engine's tag; never pushed under this name). */
export const localImageRef = (app: string, tag: string) =>
  `localhost/wharf/${assertAppId(app)}:${assertTag(tag)}`;

/** Last `n` non-empty lines of a text. */
export function tailLines(text: string, n = 30): string[] {
  return text
    .split('\n')
    .map((l) => l.replace(/\s+$/, ''))
    .filter((l) => l.length > 0)
    .slice(-n);
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
