import type { SecretVersion, StoredSecret } from './model.js';
import { recoverableDays } from './vault.js';

/** The attributes object of every secret payload, in Key Vault's field names. */
interface WireAttributes {
  enabled: boolean;
  nbf?: number;
  exp?: number;
  created: number;
  updated: number;
  recoveryLevel: string;
  recoverableDays: number;
}

export interface SecretItem {
  id: string;
  attributes: WireAttributes;
  tags?: Record<string, string>;
  contentType?: string;
}

export interface SecretBundle extends SecretItem {
  value?: string;
}

export interface DeletedSecretBundle extends SecretBundle {
  recoveryId: string;
  deletedDate: number;
  scheduledPurgeDate: number;
}

function attributes(version: SecretVersion): WireAttributes {
  const wire: WireAttributes = {
    enabled: version.enabled,
    created: version.created,
    updated: version.updated,
    recoveryLevel: 'Recoverable+Purgeable',
    recoverableDays,
  };
  if (version.nbf !== undefined) wire.nbf = version.nbf;
  if (version.exp !== undefined) wire.exp = version.exp;
  return wire;
}

function current(secret: StoredSecret): SecretVersion {
  const latest = secret.versions.at(-1);
  // The vault never stores a secret without a version; reaching this is a bug in the emulator.
  if (!latest) throw new Error(`secret ${secret.name} has no versions`);
  return latest;
}

/** `{vaultUrl}/secrets/{name}[/{version}]`, the identifier the SDK parses back into name and version. */
export function secretId(vaultUrl: string, name: string, version?: string): string {
  const base = `${vaultUrl}/secrets/${encodeURIComponent(name)}`;
  return version ? `${base}/${version}` : base;
}

function item(version: SecretVersion, id: string): SecretItem {
  const wire: SecretItem = { id, attributes: attributes(version) };
  if (version.tags) wire.tags = { ...version.tags };
  if (version.contentType !== undefined) wire.contentType = version.contentType;
  return wire;
}

/**
 * The SecretBundle Key Vault returns for get, set and update; `withValue: false` leaves the value out.
 * @example
 * const body = secretBundle('https://127.0.0.1:8443', secret, version, { withValue: true });
 */
export function secretBundle(
  vaultUrl: string,
  secret: StoredSecret,
  version: SecretVersion,
  { withValue }: { withValue: boolean },
): SecretBundle {
  const bundle: SecretBundle = item(version, secretId(vaultUrl, secret.name, version.version));
  if (withValue) bundle.value = version.value;
  return bundle;
}

/** A SecretItem in "list secrets": the secret's identifier without a version, its current version's properties. */
export function secretListItem(vaultUrl: string, secret: StoredSecret): SecretItem {
  return item(current(secret), secretId(vaultUrl, secret.name));
}

/** A SecretItem in "list versions": one per version, identified with its version. */
export function versionListItem(vaultUrl: string, secret: StoredSecret, version: SecretVersion): SecretItem {
  return item(version, secretId(vaultUrl, secret.name, version.version));
}

/** The DeletedSecretBundle of delete, get deleted and list deleted; values are never included. */
export function deletedSecretBundle(vaultUrl: string, secret: StoredSecret): DeletedSecretBundle {
  const version = current(secret);
  return {
    ...secretBundle(vaultUrl, secret, version, { withValue: false }),
    recoveryId: `${vaultUrl}/deletedsecrets/${encodeURIComponent(secret.name)}`,
    deletedDate: secret.deleted?.deletedDate ?? version.updated,
    scheduledPurgeDate: secret.deleted?.scheduledPurgeDate ?? version.updated,
  };
}
