// One publish repository per app: `name` is the repository an app's images are pushed to, so two apps
// with the same name would publish over each other's tags. The first app (by id) keeps the name; every
// later claimant is a validation problem naming both files and is left out of the snapshot, so no
// stage ever sees it.
import type { Problem } from './format.ts';

export interface NamedApp {
  app: { id: string; name: string };
}

/** Remove every app that claims a publish repository an earlier app (by id) already has. */
export function dropRepositoryClashes<E extends NamedApp>(apps: Map<string, E>, problems: Problem[]): void {
  const owner = new Map<string, string>();
  for (const id of [...apps.keys()].sort()) {
    const name = apps.get(id)!.app.name;
    const first = owner.get(name);
    if (first === undefined) {
      owner.set(name, id);
      continue;
    }
    problems.push({
      file: `apps/${id}/app.yml`,
      line: 1,
      field: 'name',
      message: `publish repository "${name}" is already claimed by apps/${first}/app.yml; names must be unique (this app is ignored until one of them is renamed)`,
    });
    apps.delete(id);
  }
}
