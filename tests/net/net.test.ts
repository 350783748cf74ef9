// The network layer on its own: backoff and Retry-After arithmetic, per-host limits, origin-bound
// credentials and the OCI token realm rule, against loopback servers.
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../catalog/backoff.ts';
import {
  bindCredentials,
  credentialsFor,
  HttpClient,
  parseRetryAfter,
  rateLimitResetAt,
} from '../../publisher/net/index.ts';
import { AuthError, fetchToken, httpRealmAllowed, parseChallenge } from '../../publisher/registry/auth.ts';
import { testConfig, useServer } from '../watch/helpers.ts';

const srv = useServer();

describe('backoff and Retry-After', () => {
  it('waits between half and all of the capped exponential step', () => {
    expect(backoffDelay(1, 100, 10_000, () => 0)).toBe(50);
    expect(backoffDelay(1, 100, 10_000, () => 1)).toBe(100);
    expect(backoffDelay(4, 100, 10_000, () => 0)).toBe(400);
    expect(backoffDelay(4, 100, 10_000, () => 1)).toBe(800);
    expect(backoffDelay(30, 100, 10_000, () => 1)).toBe(10_000);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(3, 100, 10_000);
      expect(d).toBeGreaterThanOrEqual(200);
      expect(d).toBeLessThanOrEqual(400);
    }
  });

  it('reads Retry-After as delay-seconds and as an HTTP-date', () => {
    const now = Date.parse('Wed, 21 Oct 2026 07:28:00 GMT');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:28:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 21 Oct 2026 07:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it("reads GitHub's rate-limit headers only when the limit is used up", () => {
    expect(rateLimitResetAt({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '1700000000' })).toBe(
      1_700_000_000_000,
    );
    expect(
      rateLimitResetAt({ 'x-ratelimit-remaining': '12', 'x-ratelimit-reset': '1700000000' }),
    ).toBeUndefined();
    expect(rateLimitResetAt({})).toBeUndefined();
  });
});

describe('per-host limits', () => {
  it('never has more than perHost requests in flight to one host', async () => {
    let inFlight = 0;
    let most = 0;
    srv.route('/slow', (_req, res) => {
      most = Math.max(most, ++inFlight);
      setTimeout(() => {
        inFlight--;
        res.writeHead(200).end('ok');
      }, 30);
    });
    const http = new HttpClient(testConfig({ perHost: 2, concurrency: 16 }));
    try {
      const all = await Promise.all(Array.from({ length: 10 }, () => http.get(`${srv.url}/slow`)));
      expect(all.map((r) => r.body.toString())).toEqual(Array(10).fill('ok'));
      expect(most).toBeGreaterThanOrEqual(1);
      expect(most).toBeLessThanOrEqual(2);
      expect(http.stats.requests).toBe(10);
    } finally {
      await http.close();
    }
  });
});

describe('origin-bound credentials', () => {
  it('binds to scheme, host and port', () => {
    const c = bindCredentials('https://api.github.com/x', { headers: { authorization: 'Bearer t' } });
    expect(credentialsFor('https://api.github.com/repos/a/b', c)).toBe(c);
    expect(credentialsFor('https://api.github.com:443/y', c)).toBe(c);
    expect(credentialsFor('http://api.github.com/y', c)).toBeUndefined();
    expect(credentialsFor('https://api.github.com:8443/y', c)).toBeUndefined();
    expect(credentialsFor('https://evil.example/y', c)).toBeUndefined();
    expect(bindCredentials('https://a.example', { headers: { authorization: undefined } })).toBeUndefined();
  });

  it('refuses a credential passed as a plain header', async () => {
    const http = new HttpClient(testConfig());
    try {
      const before = srv.log.length;
      await expect(http.get(`${srv.url}/x`, { headers: { Authorization: 'Bearer t' } })).rejects.toThrow(
        /origin-bound credentials/,
      );
      await expect(http.get(`${srv.url}/x`, { headers: { 'private-token': 't' } })).rejects.toThrow(
        /origin-bound credentials/,
      );
      expect(srv.log.length).toBe(before);
    } finally {
      await http.close();
    }
  });
});

describe('OCI token realm', () => {
  it('allows plain http only for a configured or loopback http registry', () => {
    expect(httpRealmAllowed('http://127.0.0.1:5000', false)).toBe(true);
    expect(httpRealmAllowed('http://localhost:5000', false)).toBe(true);
    expect(httpRealmAllowed('http://[::1]:5000', false)).toBe(true);
    expect(httpRealmAllowed('http://registry.example', true)).toBe(true);
    expect(httpRealmAllowed('http://registry.example', false)).toBe(false);
    expect(httpRealmAllowed('https://registry.example', true)).toBe(false);
    expect(httpRealmAllowed('https://127.0.0.1:5000', false)).toBe(false);
  });

  it('refuses an http realm when not allowed, before asking it', async () => {
    let asked = 0;
    srv.route('/token', (_req, res) => {
      asked++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"t"}');
    });
    const ch = parseChallenge(`Bearer realm="${srv.url}/token",service="reg"`)!;
    const err = await fetchToken(ch, ['repository:a/b:pull'], undefined, {
      timeoutMs: 2000,
      allowHttp: false,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as Error).message).toMatch(/refusing token realm over http:/);
    expect(asked).toBe(0);
    const ok = await fetchToken(ch, ['repository:a/b:pull'], undefined, { timeoutMs: 2000, allowHttp: true });
    expect(ok.token).toBe('t');
    expect(asked).toBe(1);
  });
});
