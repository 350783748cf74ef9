// The SBOM an image's scan recorded, served beside its page when the blob store holds it (the tag
// page links here only then). The blob's bytes as stored; its sha256 is on the tag page.
import type { APIRoute } from 'astro';
import { pageApps, sbomBlob, siteModel, type TagView } from '../../../../../lib/model.ts';

export async function getStaticPaths() {
  const m = await siteModel();
  const out: { params: { id: string; kind: string; tag: string }; props: { x: TagView } }[] = [];
  for (const a of await pageApps())
    for (const x of a.tags)
      if (x.hasRecords && x.sbom && (await sbomBlob(m, x.sbom)))
        out.push({ params: { id: a.id, kind: x.kind, tag: x.id }, props: { x } });
  return out;
}

export const GET: APIRoute = async ({ props }) => {
  const { x } = props as { x: TagView };
  const bytes = await sbomBlob(await siteModel(), x.sbom!);
  return new Response(bytes ? new Uint8Array(bytes) : '', {
    headers: { 'content-type': 'application/json' },
  });
};
