// GET /api/apps/<id>.json: one visible app with its tags and public stage records (allow-listed, see api-schema.ts).
import { apiApp } from '../../../lib/machine.ts';
import { pageApps, siteModel, type AppView } from '../../../lib/model.ts';

export async function getStaticPaths() {
  const apps = await pageApps();
  return apps.map((a) => ({ params: { id: a.id }, props: { a } }));
}

export async function GET({ props }: { props: { a: AppView } }): Promise<Response> {
  return new Response(JSON.stringify(apiApp(props.a, await siteModel())), {
    headers: { 'content-type': 'application/json' },
  });
}
