// The OpenAPI 3.1 description of the site's JSON API, served at /api/openapi.json. Its schemas
// (JSON Schema 2020-12) refuse any property they do not name (`additionalProperties: false`), so
// they are the allow-list of what the API publishes: machine.ts copies exactly these fields, and
// tests/api validates every generated API file against them.
import { API_VERSION } from './machine.ts';

type Schema = Record<string, unknown>;

const str: Schema = { type: 'string' };
const nullableStr: Schema = { type: ['string', 'null'] };
const time: Schema = { type: 'string', format: 'date-time' };
const nullableTime: Schema = { type: ['string', 'null'], format: 'date-time' };
const digest: Schema = { type: 'string', pattern: '^sha256:[a-f0-9]{64}$' };
const strList: Schema = { type: 'array', items: str };
const url: Schema = { type: 'string', format: 'uri' };
const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });

/** An object whose listed properties are all it may have; `required` defaults to every property. */
function obj(props: Record<string, Schema>, optional: string[] = []): Schema {
  return {
    type: 'object',
    additionalProperties: false,
    properties: props,
    required: Object.keys(props).filter((k) => !optional.includes(k)),
  };
}

const i18n = obj({ zh: str, en: str }, ['zh', 'en']);
const counts = obj({
  CRITICAL: { type: 'integer' },
  HIGH: { type: 'integer' },
  MEDIUM: { type: 'integer' },
  LOW: { type: 'integer' },
  UNKNOWN: { type: 'integer' },
});

const scan: Schema = {
  oneOf: [
    obj(
      {
        state: { const: 'ok' },
        at: time,
        total: counts,
        fixable: counts,
        scanner: str,
        // Coverage (publisher/advisories/coverage.ts); osNotScanned: nothing matched the OS packages.
        osPackages: { enum: ['wharf-cvrf', 'trivy', 'none'] },
        languagePackages: { enum: ['trivy', 'none'] },
        coverage: str,
        osNotScanned: { const: true },
      },
      ['scanner', 'osPackages', 'languagePackages', 'coverage', 'osNotScanned'],
    ),
    obj({ state: { enum: ['not-run', 'failed'] }, at: time, message: str }, ['message']),
    obj({ state: { const: 'not-scanned' } }),
  ],
};

const links = obj({
  page: url,
  pageEn: url,
  api: url,
  feed: url,
  badges: obj({ version: url, scan: url, signed: url }),
});

/** A stored blob by content hash: what it is, never where it is kept. */
const blob = obj({
  sha256: { type: 'string', pattern: '^[a-f0-9]{64}$' },
  size: { type: 'integer', minimum: 0 },
  mediaType: str,
});

const records = obj(
  {
    build: obj(
      {
        status: { enum: ['ok', 'failed', 'unchanged', 'skipped'] },
        at: time,
        recipeCommit: str,
        base: obj({ ref: str, digest }, ['digest']),
        manifestDigest: digest,
        arches: strList,
        error: str,
      },
      ['recipeCommit', 'base', 'manifestDigest', 'arches', 'error'],
    ),
    verify: obj(
      {
        status: { enum: ['passed', 'failed', 'skipped'] },
        at: time,
        checks: { type: 'array', items: obj({ name: str, status: str }) },
        error: str,
      },
      ['error'],
    ),
    scan: obj(
      {
        status: { enum: ['ok', 'not-run', 'failed'] },
        at: time,
        scanner: obj({ name: str, version: str }, ['version']),
        target: str,
        report: blob,
        sbom: blob,
        blocked: { type: 'boolean' },
        error: str,
      },
      ['scanner', 'target', 'report', 'sbom', 'blocked', 'error'],
    ),
    sign: obj(
      {
        status: { enum: ['signed', 'failed', 'skipped', 'unchanged'] },
        at: time,
        keyId: str,
        signatures: {
          type: 'array',
          items: obj({ target: str, ref: str, digest, signatureTag: str, attestationTag: str }, [
            'attestationTag',
          ]),
        },
        error: str,
      },
      ['keyId', 'error'],
    ),
    publish: obj(
      {
        status: { enum: ['ok', 'partial', 'failed', 'blocked', 'unchanged'] },
        at: time,
        digest,
        targets: {
          type: 'array',
          items: obj(
            {
              target: str,
              ref: str,
              status: { enum: ['ok', 'failed', 'unchanged'] },
              digest,
              aliases: strList,
            },
            ['digest', 'aliases'],
          ),
        },
        blockedBy: str,
        error: str,
      },
      ['digest', 'blockedBy', 'error'],
    ),
    /** Cloud images: one entry per cloud import target; cloudImageId once completed, error when failed. */
    import: obj({
      status: { enum: ['ok', 'running', 'partial', 'failed', 'blocked', 'unchanged'] },
      at: time,
      targets: {
        type: 'array',
        items: obj(
          {
            target: str,
            provider: { enum: ['aws', 'huawei', 'alibaba', 'tencent'] },
            region: str,
            arch: str,
            state: { enum: ['running', 'completed', 'failed'] },
            /** The cloud's image id (AMI, IMS image, …), once completed. */
            cloudImageId: str,
            error: str,
            updatedAt: time,
          },
          ['arch', 'cloudImageId', 'error', 'updatedAt'],
        ),
      },
    }),
  },
  ['build', 'verify', 'scan', 'sign', 'publish', 'import'],
);

const tag = obj(
  {
    kind: { enum: ['container', 'wsl', 'cloud'] },
    id: str,
    version: str,
    osVersion: str,
    arches: strList,
    digest: { oneOf: [digest, { type: 'null' }] },
    lastBuilt: nullableTime,
    updatedAt: nullableTime,
    pending: nullableStr,
    problem: nullableStr,
    pull: { type: 'array', items: obj({ registry: str, ref: str, published: { type: 'boolean' } }) },
    signed: { type: 'boolean' },
    scan,
    /** Multi-arch images only: each arch's manifest (digest, compressed size, listed in the published index). */
    platforms: {
      type: 'array',
      items: obj(
        { arch: str, digest, size: { type: 'integer', minimum: 0 }, published: { type: 'boolean' } },
        ['digest', 'size'],
      ),
    },
    records,
  },
  ['platforms'],
);

const app = obj(
  {
    id: str,
    name: str,
    title: i18n,
    summary: i18n,
    description: i18n,
    category: str,
    scene: str,
    license: obj({ spdx: str, text: str }, ['spdx', 'text']),
    homepage: url,
    upstream: obj({ backend: str, repo: str, package: str, url }, ['repo', 'package', 'url']),
    keywords: strList,
    similar: strList,
    dependencies: strList,
  },
  ['scene', 'homepage', 'upstream'],
);

const appDocument = obj({
  apiVersion: { const: API_VERSION },
  app,
  links,
  upstream: obj({ latest: nullableStr, lastChecked: nullableTime }),
  tags: { type: 'array', items: tag },
  history: { type: 'array', items: obj({ sha: str, date: time, subject: str }) },
});

const indexEntry = obj({
  id: str,
  name: str,
  titles: i18n,
  summary: i18n,
  category: str,
  license: nullableStr,
  latest: nullableStr,
  osVersions: strList,
  arches: strList,
  tags: { type: 'integer', minimum: 0 },
  published: { type: 'integer', minimum: 0 },
  signed: { type: 'boolean' },
  scan,
  updatedAt: nullableTime,
  url,
  api: url,
  feed: url,
});

const index = obj({
  apiVersion: { const: API_VERSION },
  catalogHead: nullableStr,
  site: url,
  apps: { type: 'array', items: indexEntry },
});

export const API_SCHEMAS = { AppIndex: index, AppDocument: appDocument, Scan: scan } as const;

/** The OpenAPI document; `server` is the site's base URL. */
export function openApiDocument(server: string) {
  const json = (schema: string, description: string) => ({
    description,
    content: { 'application/json': { schema: ref(schema) } },
  });
  return {
    openapi: '3.1.0',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Wharf marketplace API',
      version: String(API_VERSION),
      description:
        'Static JSON documents generated with the marketplace from the catalog. Only visible apps appear. ' +
        'Scan states are never "clean" unless a scan ran: not-scanned and not-run say that it did not.',
    },
    servers: [{ url: server }],
    paths: {
      '/api/apps.json': {
        get: {
          summary: 'Every visible app, summarised',
          responses: { 200: json('AppIndex', 'The app index') },
        },
      },
      '/api/apps/{id}.json': {
        get: {
          summary: 'One app with its tags and public stage records',
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
          responses: {
            200: json('AppDocument', 'The app document'),
            404: { description: 'No such visible app' },
          },
        },
      },
    },
    components: { schemas: API_SCHEMAS },
  };
}
