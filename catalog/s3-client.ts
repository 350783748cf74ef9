// One S3 client for every S3-compatible store Wharf writes to (the blob store, object-storage targets):
// region, path style and endpoint from the config, the SDK's default CRC32 checksums off (many
// S3-compatible stores reject them), and credentials read from environment variables whose NAMES are
// configured (never the secrets themselves). Both keys or neither: with neither, the SDK's own chain.
import { S3Client } from '@aws-sdk/client-s3';
import type { S3Connection } from './config.ts';

export function s3Client(
  cfg: S3Connection,
  env: NodeJS.ProcessEnv,
  /** Makes the caller's error from "set both X and Y, or neither". */
  fail: (message: string) => Error,
): S3Client {
  const accessKeyId = env[cfg.accessKeyIdEnv];
  const secretAccessKey = env[cfg.secretAccessKeyEnv];
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined))
    throw fail(`set both ${cfg.accessKeyIdEnv} and ${cfg.secretAccessKeyEnv}, or neither`);
  return new S3Client({
    region: cfg.region,
    forcePathStyle: cfg.forcePathStyle,
    ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}),
    // Many S3-compatible stores reject the SDK's default CRC32 checksums and trailers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(accessKeyId && secretAccessKey
      ? {
          credentials: {
            accessKeyId,
            secretAccessKey,
            ...(cfg.sessionTokenEnv && env[cfg.sessionTokenEnv]
              ? { sessionToken: env[cfg.sessionTokenEnv] }
              : {}),
          },
        }
      : {}),
  });
}
