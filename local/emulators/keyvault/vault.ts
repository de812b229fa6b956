import { randomBytes } from 'node:crypto';
import { KeyVaultRestError, secretNotFound } from './errors.js';
import {
  assertSecretName,
  type SecretVersion,
  type SetSecretBody,
  type StoredSecret,
  type UpdateSecretBody,
  type VaultData,
} from './model.js';

/** Soft-delete retention the emulated vaults report (Key Vault's default). */
export const recoverableDays = 90;
const daySeconds = 24 * 3600;

/**
 * The secrets of one vault and the operations Key Vault's secrets API performs on them.
 * Works on the plain data object it is given, so persisting that object persists the vault.
 * @example
 * const vault = new SecretVault(data, () => Math.floor(Date.now() / 1000));
 * const { version } = vault.set('db-password', { value: 's3cret' });
 */
export class SecretVault {
  constructor(
    readonly data: VaultData,
    private readonly nowSeconds: () => number,
  ) {}

  /** Adds a new version (creating the secret if needed); it becomes the current version. */
  set(name: string, body: SetSecretBody): { secret: StoredSecret; version: SecretVersion } {
    assertSecretName(name);
    const existing = this.data.secrets[name.toLowerCase()];
    if (existing?.deleted) {
      throw new KeyVaultRestError(
        409,
        'Conflict',
        `Secret ${existing.name} is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the secret can only be recovered or purged.`,
        'ObjectIsDeletedButRecoverable',
      );
    }
    const now = this.nowSeconds();
    const version: SecretVersion = {
      version: randomBytes(16).toString('hex'),
      value: body.value,
      enabled: body.attributes?.enabled ?? true,
      created: now,
      updated: now,
      published: {},
    };
    if (body.contentType != null) version.contentType = body.contentType;
    if (body.tags != null) version.tags = { ...body.tags };
    if (body.attributes?.nbf != null) version.nbf = body.attributes.nbf;
    if (body.attributes?.exp != null) version.exp = body.attributes.exp;
    const secret = existing ?? { name, versions: [] };
    secret.versions.push(version);
    this.data.secrets[name.toLowerCase()] = secret;
    return { secret, version };
  }

  /** A version's value; the current one when `version` is empty. Disabled versions answer 403. */
  get(name: string, version?: string): { secret: StoredSecret; version: SecretVersion } {
    const found = this.find(name, version);
    if (!found.version.enabled) {
      throw new KeyVaultRestError(
        403,
        'Forbidden',
        'Operation get is not allowed on a disabled secret.',
        'SecretDisabled',
      );
    }
    return found;
  }

  /** Changes only the properties present in `body`; tags given replace all tags. */
  update(
    name: string,
    version: string | undefined,
    body: UpdateSecretBody,
  ): { secret: StoredSecret; version: SecretVersion } {
    const found = this.find(name, version);
    const target = found.version;
    if (body.contentType !== undefined) setOrDrop(target, 'contentType', body.contentType);
    if (body.tags !== undefined) setOrDrop(target, 'tags', body.tags === null ? null : { ...body.tags });
    const attributes = body.attributes ?? {};
    if (attributes.enabled != null) target.enabled = attributes.enabled;
    if (attributes.nbf !== undefined) setOrDrop(target, 'nbf', attributes.nbf);
    if (attributes.exp !== undefined) {
      // A new expiry is a new deadline: its near-expiry and expired notices have not gone out yet.
      if (attributes.exp !== target.exp) {
        delete target.published.nearExpiry;
        delete target.published.expired;
      }
      setOrDrop(target, 'exp', attributes.exp);
    }
    target.updated = this.nowSeconds();
    return found;
  }

  /** Secrets that are not deleted, ordered by name so paging is stable. */
  list(): StoredSecret[] {
    return this.sorted().filter((secret) => !secret.deleted);
  }

  versions(name: string): StoredSecret {
    return this.live(name);
  }

  /** Soft delete: the secret keeps its versions until purged or past its scheduled purge date. */
  delete(name: string): StoredSecret {
    const secret = this.live(name);
    const now = this.nowSeconds();
    secret.deleted = { deletedDate: now, scheduledPurgeDate: now + recoverableDays * daySeconds };
    return secret;
  }

  getDeleted(name: string): StoredSecret {
    const secret = this.data.secrets[name.toLowerCase()];
    if (!secret?.deleted) throw deletedNotFound(name);
    return secret;
  }

  listDeleted(): StoredSecret[] {
    return this.sorted().filter((secret) => secret.deleted);
  }

  recover(name: string): StoredSecret {
    const secret = this.getDeleted(name);
    delete secret.deleted;
    return secret;
  }

  purge(name: string): void {
    this.getDeleted(name);
    delete this.data.secrets[name.toLowerCase()];
  }

  /** Purges deleted secrets whose retention has run out; returns how many. */
  purgeExpiredDeletions(): number {
    const now = this.nowSeconds();
    const due = this.listDeleted().filter((secret) => (secret.deleted?.scheduledPurgeDate ?? now) <= now);
    for (const secret of due) delete this.data.secrets[secret.name.toLowerCase()];
    return due.length;
  }

  private live(name: string): StoredSecret {
    assertSecretName(name);
    const secret = this.data.secrets[name.toLowerCase()];
    if (!secret || secret.deleted) throw secretNotFound(name);
    return secret;
  }

  private find(name: string, version: string | undefined): { secret: StoredSecret; version: SecretVersion } {
    const secret = this.live(name);
    const found = version
      ? secret.versions.find((candidate) => candidate.version === version.toLowerCase())
      : secret.versions.at(-1);
    if (!found) throw secretNotFound(name, version);
    return { secret, version: found };
  }

  private sorted(): StoredSecret[] {
    return Object.entries(this.data.secrets)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, secret]) => secret);
  }
}

type OptionalField = 'contentType' | 'tags' | 'nbf' | 'exp';

/** `null` on the wire clears a property; anything else sets it. */
function setOrDrop<K extends OptionalField>(
  target: SecretVersion,
  key: K,
  value: SecretVersion[K] | null,
): void {
  if (value === null || value === undefined) delete target[key];
  else target[key] = value;
}

function deletedNotFound(name: string): KeyVaultRestError {
  return new KeyVaultRestError(404, 'SecretNotFound', `Deleted Secret not found: ${name}`);
}
