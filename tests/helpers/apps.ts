// App fixtures shared by tests: a container recipe in the openEuler layout (<version>/<os>/Dockerfile).
import type { AppInput } from '../../catalog/schema.ts';

export type ContainerRecipeInput = NonNullable<NonNullable<AppInput['recipes']>['container']>[number];

/** A container recipe for `tag`, built from `<version>/<osVersion>/Dockerfile`; `extra` adds fields. */
export function containerRecipe(
  tag: string,
  version: string,
  osVersion: string,
  extra: Partial<ContainerRecipeInput> = {},
): ContainerRecipeInput {
  return {
    kind: 'container',
    tag,
    dockerfile: `${version}/${osVersion}/Dockerfile`,
    version,
    osVersion,
    ...extra,
  };
}
