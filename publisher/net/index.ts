// The network layer: every HTTP request Wharf makes (watch sources, the OCI registry client and its
// token handshake, webhook delivery) goes through these modules, so retries, Retry-After, rate limits,
// per-host limits, body caps, Content-Encoding and origin-bound credentials are written once.
export * from './body.ts';
export * from './client.ts';
export * from './errors.ts';
export * from './limits.ts';
export * from './link.ts';
export * from './origin.ts';
export * from './request.ts';
export * from './retry.ts';
