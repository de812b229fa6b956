import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childTrustEnv, ensureLocalCertificates, LocalTlsError, trustLocalCa } from '../../local/tls.js';

const run = promisify(execFile);

describe('local TLS certificates', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vigil-tls-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a CA and a server certificate for localhost, 127.0.0.1 and ::1', async () => {
    const certs = await ensureLocalCertificates(dir);

    const ca = new X509Certificate(certs.caPem);
    const server = new X509Certificate(certs.cert);
    expect(ca.ca).toBe(true);
    expect(server.ca).toBe(false);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.checkHost('localhost')).toBe('localhost');
    expect(server.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(server.checkIP('::1')).toBe('::1');
    expect(server.checkHost('example.org')).toBeUndefined();
    expect(await readFile(certs.caPath, 'utf8')).toBe(certs.caPem);
  });

  it('reuses the stored certificates on a later call, also from concurrent callers', async () => {
    const first = await ensureLocalCertificates(dir);

    const again = await Promise.all([ensureLocalCertificates(dir), ensureLocalCertificates(dir)]);

    expect(again.map((c) => c.cert)).toEqual([first.cert, first.cert]);
  });

  it('generates once when several callers race on an empty directory', async () => {
    const fresh = await mkdtemp(join(tmpdir(), 'vigil-tls-race-'));
    try {
      const results = await Promise.all([1, 2, 3].map(() => ensureLocalCertificates(fresh)));

      expect(new Set(results.map((c) => c.caPem)).size).toBe(1);
      expect(new Set(results.map((c) => c.cert)).size).toBe(1);
    } finally {
      await rm(fresh, { recursive: true, force: true });
    }
  });

  it('regenerates when the server certificate is (nearly) expired', async () => {
    const first = await ensureLocalCertificates(dir);
    const in400Days = new Date(Date.now() + 400 * 24 * 3600_000);

    const renewed = await ensureLocalCertificates(dir, in400Days);

    expect(renewed.cert).not.toBe(first.cert);
    expect(new Date(new X509Certificate(renewed.cert).validTo).getTime()).toBeGreaterThan(
      in400Days.getTime(),
    );
  });

  it('regenerates when a stored file is damaged', async () => {
    const first = await ensureLocalCertificates(dir);
    await writeFile(join(dir, 'server.pem'), 'not a certificate');

    const repaired = await ensureLocalCertificates(dir);

    expect(repaired.cert).not.toBe(first.cert);
    expect(new X509Certificate(repaired.cert).verify(new X509Certificate(repaired.caPem).publicKey)).toBe(
      true,
    );
  });

  it('refuses to trust something that is not a CA certificate', async () => {
    const { cert } = await ensureLocalCertificates(dir);

    expect(() => trustLocalCa('garbage')).toThrow(LocalTlsError);
    expect(() => trustLocalCa(cert)).toThrow(/not a CA certificate/);
  });

  it('fetch and https trust the CA after trustLocalCa; child processes through NODE_EXTRA_CA_CERTS', async () => {
    const certs = await ensureLocalCertificates(dir);
    const server = https.createServer({ key: certs.key, cert: certs.cert }, (_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      await expect(fetch(url)).rejects.toThrow();

      trustLocalCa(certs.caPem);
      trustLocalCa(certs.caPem); // idempotent

      expect(await (await fetch(url)).text()).toBe('ok');
      expect(await (await fetch(url.replace('127.0.0.1', 'localhost'))).text()).toBe('ok');
      const viaHttps = await new Promise<string>((resolve, reject) => {
        https
          .get(url, (res) => res.once('data', (chunk: Buffer) => resolve(chunk.toString())))
          .on('error', reject);
      });
      expect(viaHttps).toBe('ok');
      const child = await run(
        process.execPath,
        ['-e', `fetch('${url}').then(r => r.text()).then(console.log)`],
        {
          env: { ...process.env, ...childTrustEnv(certs.caPath) },
        },
      );
      expect(child.stdout.trim()).toBe('ok');
    } finally {
      server.close();
    }
  });
});
