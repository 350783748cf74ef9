// The registry client package: OCI Distribution API client, image references, OCI layouts, push.
export * from './auth.ts';
export * from './client.ts';
export * from './layout.ts';
export * from './media.ts';
export * from './push.ts';
export * from './ref.ts';
export * from '../net/retry.ts';
export * from './image-index.ts';
