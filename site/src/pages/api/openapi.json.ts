// GET /api/openapi.json: the OpenAPI 3.1 description of the JSON API (its schemas are the allow-list).
import { openApiDocument } from '../../lib/api-schema.ts';
import { siteBase } from '../../lib/machine.ts';
import { siteModel } from '../../lib/model.ts';

export async function GET(): Promise<Response> {
  return new Response(JSON.stringify(openApiDocument(siteBase(await siteModel())), null, 2), {
    headers: { 'content-type': 'application/json' },
  });
}
