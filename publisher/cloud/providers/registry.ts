// The cloud import adapters by provider name (a provider with none is recorded as failed, never skipped silently).
import type { CloudProviderName } from '../../../catalog/config.ts';
import { alibabaProvider } from './alibaba.ts';
import { awsProvider } from './aws.ts';
import { huaweiProvider } from './huawei.ts';
import { tencentProvider } from './tencent.ts';
import type { CloudProvider } from './types.ts';

export const PROVIDERS: Partial<Record<CloudProviderName, CloudProvider>> = {
  aws: awsProvider,
  huawei: huaweiProvider,
  tencent: tencentProvider,
  alibaba: alibabaProvider,
};
