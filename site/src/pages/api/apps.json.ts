// GET /api/apps.json: every visible app, summarised.
import { apiIndex } from '../../lib/machine.ts';
import { siteModel } from '../../lib/model.ts';

export async function GET(): Promise<Response> {
  return new Response(JSON.stringify(apiIndex(await siteModel())), {
    headers: { 'content-type': 'application/json' },
  });
}
