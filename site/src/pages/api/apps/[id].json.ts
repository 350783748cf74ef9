// GET /api/apps/<id>.json: one visible app with its tags and public stage records.
import { apiApp } from '../../../lib/machine.ts';
import { pageApps, type AppView } from '../../../lib/model.ts';

export async function getStaticPaths() {
  const apps = await pageApps();
  return apps.map((a) => ({ params: { id: a.id }, props: { a } }));
}

export function GET({ props }: { props: { a: AppView } }): Response {
  return new Response(JSON.stringify(apiApp(props.a)), { headers: { 'content-type': 'application/json' } });
}
