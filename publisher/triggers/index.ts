// CI and forge triggers: verified webhooks and `wharf trigger` turn into queued rebuilds (one catalog commit).
export { createHookHandler, FORGES, type HookHandler, type HookLogLine } from './handler.ts';
export { parseTriggersConfig, zTriggersConfig, type TriggersConfig } from './config.ts';
export { queueRebuild, UnknownAppError, type QueueOptions, type QueueResult } from './queue.ts';
export { ReplayGuard, giteeSignature, verifyGitee, verifyGithub, verifyGitlab } from './verify.ts';
export { deliveryKeyHash, FileReplayGuard, type DeliveryGuard, type DeliverySettler } from './replay.ts';
export { parseWebhook, PayloadError, type TriggerEvent } from './payload.ts';
export { appsForSource, appsForUpstream, normalizeRepoUrl } from './match.ts';
export { AppIndex, readHeadFile } from './app-index.ts';
export { RebuildSpool, zSpoolEntry, type SpoolEntry, type SpoolStats } from './spool.ts';
export { queueBatch, versionOfTag, type BatchRequest, type BatchResult } from './queue.ts';
