// The scan components' own words (kept here, beside ScanBadge/ScanDetails, rather than in the site's
// shared dictionary).
import type { Lang } from '../lib/i18n.ts';

const TEXT = {
  osNotScanned: { zh: '未扫描操作系统软件包', en: 'OS packages not scanned' },
  coverage: { zh: '扫描范围', en: 'Coverage' },
  osPackages: { zh: '操作系统软件包', en: 'OS packages' },
  languagePackages: { zh: '语言软件包', en: 'Language packages' },
  notCovered: { zh: '未扫描', en: 'not scanned' },
  dataAge: { zh: '数据时效', en: 'data' },
  hoursOld: { zh: '小时前', en: 'h old' },
  sbom: { zh: '软件物料清单（SBOM）', en: 'SBOM' },
  sbomDownload: { zh: '下载 CycloneDX SBOM', en: 'Download the CycloneDX SBOM' },
  sbomAttested: { zh: '已作为签名证明附加到镜像', en: 'attached to the image as a signed attestation' },
  packages: { zh: '个软件包', en: 'packages' },
  noRpmdb: { zh: '无 RPM 数据库', en: 'no RPM database' },
  source: { zh: '来源', en: 'source' },
  notCleanNote: {
    zh: '没有任何扫描器检查过操作系统软件包：零漏洞并不代表安全。',
    en: 'No scanner checked the OS packages: zero findings does not mean clean.',
  },
} as const satisfies Record<string, Record<Lang, string>>;

export type ScanTextKey = keyof typeof TEXT;

export const scanText = (k: ScanTextKey, lang: Lang): string => TEXT[k][lang];
