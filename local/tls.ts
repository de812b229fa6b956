import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import forge from 'node-forge';
import { writeFileAtomic } from './http.js';

/** PEM material for a local HTTPS server, plus the CA that signed it. */
export interface LocalCertificates {
  /** Path of the CA certificate (PEM): what `NODE_EXTRA_CA_CERTS` points at. */
  caPath: string;
  caPem: string;
  /** Server private key (PEM). Never log it. */
  key: string;
  /** Server certificate (PEM) for localhost, 127.0.0.1 and ::1. */
  cert: string;
}

/** Raised when the local certificates cannot be read, generated or trusted. */
export class LocalTlsError extends Error {
  override name = 'LocalTlsError';
}

const FILES = {
  ca: 'ca.pem',
  caKey: 'ca-key.pem',
  cert: 'server.pem',
  key: 'server-key.pem',
} as const;

const DAY_MS = 24 * 3600_000;
const CA_LIFETIME_DAYS = 3650;
const SERVER_LIFETIME_DAYS = 397;
/** Certificates this close to expiry are replaced, so a long-running stack does not lapse mid-run. */
const RENEW_BEFORE_MS = 7 * DAY_MS;
const LOCK_STALE_MS = 30_000;
const LOCK_WAIT_MS = 20_000;

const SERVER_DNS_NAMES = ['localhost'];
const SERVER_IPS = ['127.0.0.1', '::1'];

/**
 * Returns the local CA and a server certificate for localhost, 127.0.0.1 and ::1 kept under `dir`:
 * created on first use, reused later, and regenerated when missing, damaged or near expiry.
 * Safe to call from several processes at once (a lock directory serializes generation).
 * @example
 * const { key, cert, caPem } = await ensureLocalCertificates('.vigil/tls');
 * https.createServer({ key, cert }, app).listen(0, '127.0.0.1');
 * trustLocalCa(caPem);
 */
export async function ensureLocalCertificates(
  dir: string,
  now: Date = new Date(),
): Promise<LocalCertificates> {
  const existing = await readValid(dir, now);
  if (existing) return existing;
  await mkdir(dir, { recursive: true });
  return withLock(join(dir, '.lock'), async () => {
    // Another process may have generated them while this one waited for the lock.
    const again = await readValid(dir, now);
    if (again) return again;
    return generateAndStore(dir, now);
  });
}

/**
 * Makes this process trust `caPem` for `https`, `tls` and `fetch`, on top of the CAs it already trusts.
 * Child processes do not inherit this: give them `NODE_EXTRA_CA_CERTS` (see {@link childTrustEnv}).
 * @example
 * trustLocalCa((await ensureLocalCertificates(dir)).caPem);
 * await fetch('https://127.0.0.1:8443/health');
 */
export function trustLocalCa(caPem: string): void {
  let parsed: X509Certificate;
  try {
    parsed = new X509Certificate(caPem);
  } catch (cause) {
    throw new LocalTlsError('trustLocalCa: caPem is not a PEM certificate', { cause });
  }
  if (!parsed.ca)
    throw new LocalTlsError('trustLocalCa: caPem is not a CA certificate (basicConstraints cA=false)');
  const current = tls.getCACertificates('default');
  if (current.some((pem) => samePem(pem, caPem))) return;
  tls.setDefaultCACertificates([...current, caPem]);
}

/**
 * Environment for a child Node process so that it trusts the local CA.
 * @example
 * spawn(process.execPath, ['dist/local/stack.js'], { env: { ...process.env, ...childTrustEnv(caPath) } });
 */
export function childTrustEnv(caPath: string): { NODE_EXTRA_CA_CERTS: string } {
  return { NODE_EXTRA_CA_CERTS: caPath };
}

function samePem(a: string, b: string): boolean {
  const body = (pem: string) => pem.replace(/-----[^-]+-----|\s/g, '');
  return body(a) === body(b);
}

async function readValid(dir: string, now: Date): Promise<LocalCertificates | undefined> {
  const read = (name: string) => readFile(join(dir, name), 'utf8').catch(() => undefined);
  const [caPem, caKey, cert, key] = await Promise.all([
    read(FILES.ca),
    read(FILES.caKey),
    read(FILES.cert),
    read(FILES.key),
  ]);
  if (!caPem || !caKey || !cert || !key) return undefined;
  if (!isUsable(caPem, cert, key, now)) return undefined;
  return { caPath: join(dir, FILES.ca), caPem, key, cert };
}

/** True when the stored pair still serves: parseable, signed by the CA, matching key, right names, not near expiry. */
function isUsable(caPem: string, certPem: string, keyPem: string, now: Date): boolean {
  try {
    const ca = new X509Certificate(caPem);
    const server = new X509Certificate(certPem);
    const renewAfter = now.getTime() + RENEW_BEFORE_MS;
    if (!ca.ca || new Date(ca.validTo).getTime() < renewAfter) return false;
    if (new Date(server.validTo).getTime() < renewAfter) return false;
    if (!server.verify(ca.publicKey) || !server.checkPrivateKey(createPrivateKey(keyPem))) return false;
    return (
      SERVER_DNS_NAMES.every((name) => server.checkHost(name) !== undefined) &&
      SERVER_IPS.every((ip) => server.checkIP(ip) !== undefined)
    );
  } catch {
    return false;
  }
}

async function generateAndStore(dir: string, now: Date): Promise<LocalCertificates> {
  const ca = newKeyPair();
  const server = newKeyPair();
  const caCert = buildCaCertificate(ca, now);
  const serverCert = buildServerCertificate(server, ca, caCert, now);
  const caPem = forge.pki.certificateToPem(caCert);
  const cert = forge.pki.certificateToPem(serverCert);
  // The CA key is kept only so the files can be inspected or re-signed by hand; nothing else reads it.
  await writeFileAtomic(join(dir, FILES.caKey), ca.privatePem, 0o600);
  await writeFileAtomic(join(dir, FILES.key), server.privatePem, 0o600);
  await writeFileAtomic(join(dir, FILES.cert), cert, 0o644);
  await writeFileAtomic(join(dir, FILES.ca), caPem, 0o644);
  return { caPath: join(dir, FILES.ca), caPem, key: server.privatePem, cert };
}

interface KeyPair {
  privatePem: string;
  forgePrivate: forge.pki.rsa.PrivateKey;
  forgePublic: forge.pki.rsa.PublicKey;
}

/** Keys come from Node's native crypto (fast); node-forge only assembles and signs the certificates. */
function newKeyPair(): KeyPair {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const forgePrivate = forge.pki.privateKeyFromPem(privateKey);
  const forgePublic = forge.pki.setRsaPublicKey(forgePrivate.n, forgePrivate.e);
  return { privatePem: privateKey, forgePrivate, forgePublic };
}

function baseCertificate(publicKey: forge.pki.rsa.PublicKey, now: Date, days: number) {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // A positive serial (leading 0x01 byte clears the sign bit) that is unique per generation.
  cert.serialNumber = `01${randomBytes(15).toString('hex')}`;
  // Back-dated a little so a clock that lags the creator's does not see a not-yet-valid certificate.
  cert.validity.notBefore = new Date(now.getTime() - 3600_000);
  cert.validity.notAfter = new Date(now.getTime() + days * DAY_MS);
  return cert;
}

function buildCaCertificate(keys: KeyPair, now: Date): forge.pki.Certificate {
  const cert = baseCertificate(keys.forgePublic, now, CA_LIFETIME_DAYS);
  const name = [
    { name: 'commonName', value: `Vigil local development CA ${now.toISOString().slice(0, 10)}` },
    { name: 'organizationName', value: 'Vigil local stack' },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(keys.forgePrivate, forge.md.sha256.create());
  return cert;
}

function buildServerCertificate(
  keys: KeyPair,
  ca: KeyPair,
  caCert: forge.pki.Certificate,
  now: Date,
): forge.pki.Certificate {
  const cert = baseCertificate(keys.forgePublic, now, SERVER_LIFETIME_DAYS);
  cert.setSubject([{ name: 'commonName', value: 'localhost' }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        ...SERVER_DNS_NAMES.map((value) => ({ type: 2, value })),
        ...SERVER_IPS.map((ip) => ({ type: 7, ip })),
      ],
    },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(ca.forgePrivate, forge.md.sha256.create());
  return cert;
}

/** A directory as a cross-process lock: mkdir is atomic; a lock older than LOCK_STALE_MS is from a dead process. */
async function withLock<T>(lockDir: string, work: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      await mkdir(lockDir);
      break;
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new LocalTlsError(`cannot create lock ${lockDir}`, { cause });
      }
      const age = await stat(lockDir).then(
        (s) => Date.now() - s.mtimeMs,
        () => 0,
      );
      if (age > LOCK_STALE_MS) await rm(lockDir, { recursive: true, force: true });
      else if (Date.now() > deadline) {
        throw new LocalTlsError(
          `timed out waiting for ${lockDir}; remove it if no other process is generating certificates`,
        );
      } else await sleep(50);
    }
  }
  try {
    return await work();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}
