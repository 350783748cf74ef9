// GET /feed.xml: Atom feed of the newest imports, builds and publishes, with absolute links (wharf.yml siteUrl).
import { atomFeed } from '../lib/machine.ts';
import { siteModel } from '../lib/model.ts';

export async function GET(): Promise<Response> {
  return new Response(atomFeed(await siteModel()), { headers: { 'content-type': 'application/atom+xml' } });
}
