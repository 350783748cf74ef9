// What the seed sample's recipes look like once imported, shared by the importer's tests and the CLI's.

/**
 * The recipe view (`wharf recipe inspect`) of redis 7.2.4 on 22.03-LTS-SP3: the OS base comes through
 * ARG BASE + FROM ${BASE}, and ARG VERSION defaults to the tag's version.
 */
export const REDIS_724_SP3_VIEW = {
  app: 'redis',
  dockerfile: 'Database/redis/7.2.4/22.03-lts-sp3/Dockerfile',
  exists: true,
  builder: 'dockerfile',
  stages: [{ from: '${BASE}', resolved: 'openeuler/openeuler:22.03-lts-sp3' }],
  base: 'openeuler/openeuler:22.03-lts-sp3',
  args: { BASE: 'openeuler/openeuler:22.03-lts-sp3', VERSION: '7.2.4', TARGETARCH: null },
  problems: [],
};
