// Which key id a tag page names, and how it relates to the key the site publishes. The sign record
// holds the id of the key that signed the image; the site build knows the id of the public key it
// serves at /keys/cosign.pub. Both are sha256 of the key's DER (publisher/sign/keys.ts#keyIdOf), so
// they are equal when the site publishes the signing key. The page names one id: the signer's.

export interface KeyView {
  /** The one key id the page shows: the signer's, else (record without one) the published key's. */
  keyId?: string | undefined;
  /**
   * same: the published key verifies this image; other: it was signed with another key (verifying
   * with /keys/cosign.pub fails); unknown: the record names no key; none: the site publishes no key.
   */
  published: 'same' | 'other' | 'unknown' | 'none';
}

export function keyView(signerKeyId: string | undefined, siteKeyId: string | undefined): KeyView {
  if (!siteKeyId) return { keyId: signerKeyId, published: 'none' };
  if (!signerKeyId) return { keyId: siteKeyId, published: 'unknown' };
  return { keyId: signerKeyId, published: signerKeyId === siteKeyId ? 'same' : 'other' };
}

/** The scan's SBOM was attested with the signature (the sign record carries the same blob). */
export function sbomAttested(records: {
  scan?: { sbom?: { sha256: string } | undefined } | undefined;
  sign?: { sbom?: { sha256: string } | undefined } | undefined;
}): boolean {
  const sbom = records.scan?.sbom?.sha256;
  return sbom !== undefined && records.sign?.sbom?.sha256 === sbom;
}
