// GET /apps/<app>/<kind>/<tag>/sbom.cdx.json (beside the tag page, so a partial build replaces it with the app's pages): the image's CycloneDX SBOM as the scan stage stored it (the
// same bytes the sign stage attests). Only tags whose scan record names an SBOM that the blob store
// still holds get a file; an unreadable one is a build-log warning, not a failed build.
import { pageApps, siteModel, type AppView, type TagView } from '../../../../../lib/model.ts';

export async function getStaticPaths() {
  const m = await siteModel();
  const out: { params: { id: string; kind: string; tag: string }; props: { body: string } }[] = [];
  if ('problem' in m.blobs) return out;
  const apps: AppView[] = await pageApps();
  for (const a of apps)
    for (const x of a.tags as TagView[]) {
      if (x.scan.state !== 'ok' || !x.scan.sbom) continue;
      const bytes = await m.blobs.store.get(x.scan.sbom).catch(() => null);
      if (!bytes) {
        console.warn(
          `site: ${a.id}:${x.id}: SBOM ${x.scan.sbom.sha256.slice(0, 12)} is not in the blob store`,
        );
        continue;
      }
      out.push({ params: { id: a.id, kind: x.kind, tag: x.id }, props: { body: bytes.toString('utf8') } });
    }
  return out;
}

export function GET({ props }: { props: { body: string } }): Response {
  return new Response(props.body, { headers: { 'content-type': 'application/vnd.cyclonedx+json' } });
}
