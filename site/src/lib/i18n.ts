// The two portal languages: zh (default, at /) and en (under /en/). UI strings, category labels,
// and the fallback rule for catalog text: a text missing in one language is shown in the other,
// marked as not translated.
export const LANGS = ['zh', 'en'] as const;
export type Lang = (typeof LANGS)[number];

/** The `<html lang>` per language; Pagefind builds one index per value. */
export const HTML_LANG: Record<Lang, string> = { zh: 'zh-CN', en: 'en' };

export interface I18n {
  zh?: string | undefined;
  en?: string | undefined;
}

export interface Picked {
  text: string;
  /** The language the text is really in (differs from the page language when it fell back). */
  lang: Lang;
  fallback: boolean;
}

const other = (l: Lang): Lang => (l === 'zh' ? 'en' : 'zh');

/** The text in `lang`, else in the other language (marked as fallback), else undefined. */
export function pick(t: I18n | undefined, lang: Lang): Picked | undefined {
  const own = t?.[lang]?.trim();
  if (own) return { text: own, lang, fallback: false };
  const alt = t?.[other(lang)]?.trim();
  if (alt) return { text: alt, lang: other(lang), fallback: true };
  return undefined;
}

/** Plain string form of pick(), for attributes and feeds. */
export function pickText(t: I18n | undefined, lang: Lang, dflt = ''): string {
  return pick(t, lang)?.text ?? dflt;
}

/** A site path in a language: zh lives at the root, en under /en/. `path` starts with '/'. */
export function href(lang: Lang, path: string): string {
  return lang === 'zh' ? path : `/en${path === '/' ? '/' : path}`;
}

/** getStaticPaths helper for `[...lang]` routes: zh has no prefix. */
export const langParams = () => LANGS.map((l) => ({ lang: l === 'zh' ? undefined : l }));
export const langOf = (param: string | undefined): Lang => (param === 'en' ? 'en' : 'zh');

const CATEGORY: Record<string, I18n> = {
  ai: { zh: '人工智能', en: 'AI' },
  base: { zh: '基础镜像', en: 'Base' },
  bigdata: { zh: '大数据', en: 'Big data' },
  cloud: { zh: '云原生', en: 'Cloud native' },
  database: { zh: '数据库', en: 'Databases' },
  distroless: { zh: '精简镜像', en: 'Distroless' },
  hpc: { zh: '高性能计算', en: 'HPC' },
  others: { zh: '其他', en: 'Others' },
  other: { zh: '其他', en: 'Others' },
  security: { zh: '安全', en: 'Security' },
  storage: { zh: '存储', en: 'Storage' },
  web: { zh: 'Web 服务', en: 'Web' },
  devops: { zh: '开发运维', en: 'DevOps' },
  middleware: { zh: '中间件', en: 'Middleware' },
  monitoring: { zh: '监控', en: 'Monitoring' },
  network: { zh: '网络', en: 'Networking' },
  language: { zh: '编程语言', en: 'Languages' },
  tools: { zh: '工具', en: 'Tools' },
};

export function categoryLabel(id: string, lang: Lang): string {
  return CATEGORY[id]?.[lang] ?? id.replace(/-/g, ' ').replace(/^./, (c) => c.toUpperCase());
}

const UI = {
  siteName: { zh: '软件市场', en: 'Software Market' },
  tagline: {
    zh: '为 openEuler 构建、扫描、签名并发布的应用镜像',
    en: 'Application images built, scanned, signed and published for openEuler',
  },
  searchPlaceholder: { zh: '搜索应用，例如 redis、数据库', en: 'Search apps, e.g. redis, database' },
  search: { zh: '搜索', en: 'Search' },
  categories: { zh: '分类', en: 'Categories' },
  newest: { zh: '最新上架', en: 'Newest images' },
  updated: { zh: '最近更新', en: 'Recently updated' },
  allApps: { zh: '全部应用', en: 'All apps' },
  apps: { zh: '个应用', en: 'apps' },
  appOne: { zh: '个应用', en: 'app' },
  images: { zh: '个镜像', en: 'images' },
  imageOne: { zh: '个镜像', en: 'image' },
  homepage: { zh: '主页', en: 'Homepage' },
  license: { zh: '许可证', en: 'License' },
  upstream: { zh: '上游', en: 'Upstream' },
  latestVersion: { zh: '上游最新版本', en: 'Latest upstream version' },
  lastChecked: { zh: '最后检查', en: 'last checked' },
  category: { zh: '分类', en: 'Category' },
  tags: { zh: '镜像标签', en: 'Tags' },
  tag: { zh: '标签', en: 'Tag' },
  appVersion: { zh: '应用版本', en: 'App version' },
  osVersion: { zh: '操作系统版本', en: 'OS version' },
  arch: { zh: '架构', en: 'Architectures' },
  lastBuilt: { zh: '最近构建', en: 'Last built' },
  digest: { zh: '摘要', en: 'Digest' },
  pull: { zh: '拉取命令', en: 'Pull command' },
  scan: { zh: '漏洞扫描', en: 'Scan' },
  signed: { zh: '签名', en: 'Signed' },
  yes: { zh: '已签名', en: 'signed' },
  notSigned: { zh: '未签名', en: 'not signed' },
  signFailed: { zh: '签名失败', en: 'signing failed' },
  notBuilt: { zh: '尚未构建', en: 'not built yet' },
  notScanned: { zh: '未扫描', en: 'not scanned' },
  scanNotRun: { zh: '未扫描（扫描器未运行）', en: 'not scanned (scanner did not run)' },
  scanFailed: { zh: '扫描失败', en: 'scan failed' },
  noVulns: { zh: '未发现漏洞', en: 'no known vulnerabilities' },
  notPublished: { zh: '尚未发布', en: 'not published yet' },
  noRegistry: { zh: '未配置镜像仓库', en: 'no registry configured' },
  environment: { zh: '运行环境', en: 'Environment' },
  download: { zh: '下载', en: 'Download' },
  usage: { zh: '使用方法', en: 'Usage' },
  history: { zh: '变更历史', en: 'History' },
  security: { zh: '安全', en: 'Security' },
  details: { zh: '详情', en: 'Details' },
  lastScan: { zh: '最近扫描', en: 'Last scan' },
  cveTable: { zh: '漏洞列表', en: 'Vulnerabilities' },
  findingsUnavailable: {
    zh: '漏洞列表暂时无法读取（存储不可用），以上统计数据来自最近一次扫描。',
    en: 'The vulnerability list could not be read from storage right now; the counts above are from the last scan.',
  },
  package: { zh: '软件包', en: 'Package' },
  installed: { zh: '已安装版本', en: 'Installed' },
  fixed: { zh: '修复版本', en: 'Fixed in' },
  status: { zh: '状态', en: 'Status' },
  severity: { zh: '级别', en: 'Severity' },
  verifyCmd: { zh: '验证签名', en: 'Verify the signature' },
  copy: { zh: '复制', en: 'Copy' },
  copied: { zh: '已复制', en: 'Copied' },
  pipeline: { zh: '流水线记录', en: 'Pipeline records' },
  stageNotRun: { zh: '该阶段尚未运行', en: 'this stage has not run yet' },
  pipelineNotRun: { zh: '流水线尚未运行', en: 'no stage has run yet' },
  noResults: { zh: '没有找到匹配的应用', en: 'No matching apps' },
  results: { zh: '个结果', en: 'results' },
  filters: { zh: '筛选', en: 'Filters' },
  clear: { zh: '清除', en: 'Clear' },
  more: { zh: '显示更多', en: 'Show more' },
  notTranslated: { zh: '未翻译', en: 'not translated' },
  noDescription: { zh: '暂无介绍', en: 'No description yet' },
  backToApp: { zh: '返回应用', en: 'Back to app' },
  checks: { zh: '检查', en: 'Checks' },
  scanner: { zh: '扫描器', en: 'Scanner' },
  fixable: { zh: '可修复', en: 'fixable' },
  feed: { zh: '订阅', en: 'Feed' },
  appFeed: { zh: '该应用的 Atom 订阅', en: "This app's Atom feed" },
  feedHow: { zh: '导入、构建和发布记录', en: 'imports, builds and publishes' },
  badges: { zh: '状态徽章', en: 'Badges' },
  badgesHow: { zh: '嵌入 README（Markdown）：', en: 'Embed in a README (Markdown):' },
  api: { zh: '接口', en: 'API' },
  keywords: { zh: '关键词', en: 'Keywords' },
  kind: { zh: '类型', en: 'Kind' },
  problem: { zh: '配方问题', en: 'Recipe problem' },
  pending: { zh: '等待处理', en: 'pending' },
  targets: { zh: '发布目标', en: 'Targets' },
  files: { zh: '文件', en: 'Files' },
  blocked: { zh: '已阻止发布', en: 'publishing blocked' },
  jsOff: { zh: '搜索需要启用 JavaScript。', en: 'Search needs JavaScript.' },
  noHistory: { zh: '暂无记录', en: 'No history yet' },
  duration: { zh: '耗时', en: 'took' },
  language: { zh: 'English', en: '中文' },
  app: { zh: '应用', en: 'App' },
  skipToContent: { zh: '跳到正文', en: 'Skip to content' },
  siteSearch: { zh: '全站搜索', en: 'Site search' },
  mainNav: { zh: '主导航', en: 'Main' },
  breadcrumb: { zh: '位置', en: 'Breadcrumb' },
  maintainers: { zh: '维护者视图', en: 'Maintainer view' },
  maintainersIntro: {
    zh: '配方问题只在这里显示：导入或检查配方时发现的问题（原文为英文），用户页面上不显示。',
    en: 'Recipe problems are shown here only: what importing or checking the recipes found. They are not shown on the user pages.',
  },
  noProblems: { zh: '没有配方问题', en: 'No recipe problems' },
  problemsCount: { zh: '个配方问题', en: 'recipe problems' },
  tagsTable: { zh: '镜像标签表', en: 'Tags table' },
  securityTable: { zh: '安全概览表', en: 'Security overview table' },
  cveTableLabel: { zh: '漏洞列表', en: 'Vulnerability table' },
  showFilters: { zh: '筛选条件', en: 'Filters' },
  sortBy: { zh: '排序', en: 'Sort' },
  sortRelevance: { zh: '相关度', en: 'Relevance' },
  sortName: { zh: '名称', en: 'Name' },
  sortUpdated: { zh: '最近更新', en: 'Recently updated' },
  browseAll: { zh: '全部应用', en: 'All apps' },
  searchTitle: { zh: '搜索应用', en: 'Search apps' },
  latest: { zh: '最新', en: 'latest' },
  latestFor: { zh: '该系统版本的最新标签', en: 'newest tag for this OS version' },
  similar: { zh: '同类应用', en: 'Similar apps' },
  dependencies: { zh: '依赖', en: 'Depends on' },
  dependents: { zh: '被以下应用依赖', en: 'Used by' },
  notInCatalog: { zh: '（不在目录中）', en: '(not in the catalog)' },
  pullOnlyPublished: {
    zh: '只有已发布到镜像仓库的目标才提供拉取命令。',
    en: 'Pull commands are offered only for registries the image was published to.',
  },
  notPublishedAnywhere: { zh: '该镜像尚未发布到任何镜像仓库，暂无可拉取的命令。', en: 'This image is not published to any registry yet: nothing to pull.' },
  trust: { zh: '验证镜像', en: 'Verify the image' },
  publicKey: { zh: '公钥', en: 'Public key' },
  publicKeyAt: { zh: '签名公钥发布在', en: 'The signing public key is published at' },
  noPublicKey: {
    zh: '本站未配置签名公钥，暂时无法在本站下载公钥。',
    en: 'No signing public key is configured for this site, so none is published here.',
  },
  notSignedNoVerify: {
    zh: '该镜像未签名，没有可验证的签名。',
    en: 'This image is not signed: there is no signature to verify.',
  },
  keyId: { zh: '密钥指纹', en: 'Key id' },
  keyMismatch: {
    zh: '该镜像不是用本站发布的公钥对应的密钥签名的，用 /keys/cosign.pub 验证会失败。请向发布者获取签名密钥的公钥。',
    en: 'This image was not signed with the key this site publishes: verifying it with /keys/cosign.pub fails. Ask the publisher for the public half of the key above.',
  },
  provenance: { zh: '构建来源（provenance）', en: 'Provenance' },
  provenanceHow: {
    zh: '签名时附加了构建来源证明（attestation），可用以下命令验证：',
    en: 'The signature comes with a build provenance attestation; verify it with:',
  },
  noProvenance: { zh: '该镜像没有构建来源证明。', en: 'This image has no provenance attestation.' },
  sbom: { zh: '软件物料清单（SBOM）', en: 'SBOM (software bill of materials)' },
  sbomDownload: { zh: '下载 SBOM', en: 'Download the SBOM' },
  noSbom: { zh: '暂无 SBOM。', en: 'No SBOM yet.' },
  sbomRecorded: {
    zh: '扫描记录中有 SBOM（sha256 如下），但本站未提供下载。',
    en: 'The scan record holds an SBOM (sha256 below), but this site does not serve it for download.',
  },
  perArch: { zh: '各架构摘要', en: 'Per-architecture digests' },
  scanned: { zh: '已扫描', en: 'scanned' },
  catalogProblems: { zh: '目录中有文件无法读取', en: 'catalog files could not be read' },
  tagCountOne: { zh: '个标签', en: 'tag' },
  tagCountMany: { zh: '个标签', en: 'tags' },
  // Scan coverage and SBOM (ScanBadge, ScanDetails).
  osNotScanned: { zh: '未扫描操作系统软件包', en: 'OS packages not scanned' },
  osPackages: { zh: '操作系统软件包', en: 'OS packages' },
  languagePackages: { zh: '语言软件包', en: 'Language packages' },
  dataAge: { zh: '数据时效', en: 'data' },
  hoursOld: { zh: '小时前', en: 'h old' },
  sbomAttested: { zh: '已作为签名证明附加到镜像', en: 'attached to the image as a signed attestation' },
  packageCount: { zh: '个软件包', en: 'packages' },
  noRpmdb: { zh: '无 RPM 数据库', en: 'no RPM database' },
  notCleanNote: {
    zh: '没有任何扫描器检查过操作系统软件包：零漏洞并不代表安全。',
    en: 'No scanner checked the OS packages: zero findings does not mean clean.',
  },
  // Per-architecture manifests (Arches).
  archOne: { zh: '架构', en: 'Arch' },
  manifestDigest: { zh: '清单摘要', en: 'Manifest digest' },
  compressedSize: { zh: '压缩大小', en: 'Compressed size' },
  inPublishedIndex: { zh: '已发布索引', en: 'In published index' },
  imageIndex: { zh: '镜像索引', en: 'Image index' },
  yesWord: { zh: '是', en: 'yes' },
  noWord: { zh: '否', en: 'no' },
  // WSL images (Wsl).
  wslTitle: { zh: 'WSL 镜像', en: 'WSL images' },
  wslIntro: {
    zh: '下载 .wsl 文件，在 Windows 上用下面的命令安装（需要 WSL 2.4.4 或更高版本）。',
    en: 'Download the .wsl file and install it on Windows with the command below (WSL 2.4.4 or later).',
  },
  file: { zh: '文件', en: 'File' },
  size: { zh: '大小', en: 'Size' },
  checksum: { zh: '校验和', en: 'Checksum' },
  signature: { zh: '签名', en: 'Signature' },
  publishedAt: { zh: '发布于', en: 'Published' },
  signedWithKey: { zh: '已用目录密钥签名', en: 'signed with the catalog key' },
  signedKeyless: { zh: '无密钥签名（Sigstore）', en: 'keyless (Sigstore)' },
  mirrors: { zh: '镜像站点', en: 'Mirrors' },
  downloads: { zh: '下载', en: 'Downloads' },
  cloudImages: { zh: '云镜像', en: 'Cloud images' },
  unscannedTags: { zh: '个标签尚未扫描', en: 'more tags not scanned yet' },
  // Cloud disk images (Cloud).
  cloudFormat: { zh: '格式', en: 'Format' },
  cloudBoot: { zh: '启动测试', en: 'Boot test' },
  cloudBooted: { zh: '已启动', en: 'booted' },
  cloudNotBooted: { zh: '未能启动', en: 'did not boot' },
  cloudNotBootTested: { zh: '尚未启动测试', en: 'not boot-tested yet' },
  cloudNotPublished: { zh: '尚未发布。', en: 'Not published yet.' },
  cloudBundle: { zh: '签名包', en: 'bundle' },
  cloudUnsigned: { zh: '未签名', en: 'unsigned' },
  cloudImports: { zh: '导入各云的镜像', en: 'Imported into clouds' },
  cloudProvider: { zh: '云', en: 'Cloud' },
  cloudTarget: { zh: '目标', en: 'Target' },
  cloudRegion: { zh: '区域', en: 'Region' },
  cloudImageId: { zh: '镜像 ID', en: 'Image id' },
  cloudState: { zh: '状态', en: 'State' },
  cloudUpdated: { zh: '更新于', en: 'Updated' },
  cloudStateRunning: { zh: '导入中', en: 'importing' },
  cloudStateCompleted: { zh: '已导入', en: 'imported' },
  cloudStateFailed: { zh: '失败', en: 'failed' },
  cloudAws: { zh: 'AWS', en: 'AWS' },
  cloudHuawei: { zh: '华为云', en: 'Huawei Cloud' },
  cloudAlibaba: { zh: '阿里云', en: 'Alibaba Cloud' },
  cloudTencent: { zh: '腾讯云', en: 'Tencent Cloud' },
} as const satisfies Record<string, Required<I18n>>;

export type UiKey = keyof typeof UI;
export const t = (key: UiKey, lang: Lang): string => UI[key][lang];

/** A label for the language a fallback text is in, shown as a badge. */
export const fallbackBadge = (textLang: Lang, pageLang: Lang): string =>
  `${textLang === 'zh' ? '中文' : 'English'} · ${t('notTranslated', pageLang)}`;

export function formatDate(iso: string | undefined, lang: Lang): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleDateString(lang === 'zh' ? 'zh-CN' : 'en-GB', {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    timeZone: 'UTC',
  });
}
