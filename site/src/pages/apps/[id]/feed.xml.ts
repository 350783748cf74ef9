// GET /apps/<id>/feed.xml: one app's Atom feed (its imports, builds and publishes).
import { appFeed } from '../../../lib/machine.ts';
import { pageApps, siteModel, type AppView } from '../../../lib/model.ts';

export async function getStaticPaths() {
  const apps = await pageApps();
  return apps.map((a) => ({ params: { id: a.id }, props: { a } }));
}

export async function GET({ props }: { props: { a: AppView } }): Promise<Response> {
  return new Response(appFeed(await siteModel(), props.a), {
    headers: { 'content-type': 'application/atom+xml' },
  });
}
