// RFC 8288 Link headers: the `rel="next"` page of paginated APIs (GitHub, GitLab, the OCI tag list).

/** The `rel="next"` target of a Link header, resolved against the URL of the response that carried it. */
export function nextLink(link: string | undefined, base: string): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;(?:[^,]*?)rel="?([^";]+)"?/.exec(part);
    if (m && m[2]!.split(/\s+/).includes('next')) return new URL(m[1]!, base).toString();
  }
  return undefined;
}
