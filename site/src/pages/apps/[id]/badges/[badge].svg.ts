// GET /apps/<id>/badges/{version,scan,signed}.svg: status badges of the app's newest published tag.
import { appBadge, BADGES, type BadgeName } from '../../../../lib/machine.ts';
import { pageApps, type AppView } from '../../../../lib/model.ts';

export async function getStaticPaths() {
  const apps = await pageApps();
  return apps.flatMap((a) => BADGES.map((badge) => ({ params: { id: a.id, badge }, props: { a, badge } })));
}

export function GET({ props }: { props: { a: AppView; badge: BadgeName } }): Response {
  return new Response(appBadge(props.a, props.badge), { headers: { 'content-type': 'image/svg+xml' } });
}
