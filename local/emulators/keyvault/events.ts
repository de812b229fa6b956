import { randomUUID } from 'node:crypto';
import type { SecretVersion, StoredSecret } from './model.js';

export type SecretEventType =
  | 'Microsoft.KeyVault.SecretNewVersionCreated'
  | 'Microsoft.KeyVault.SecretNearExpiry'
  | 'Microsoft.KeyVault.SecretExpired';

/** `data` of a Key Vault secret event, in the service's PascalCase field names. */
export interface SecretEventData {
  Id: string;
  VaultName: string;
  ObjectType: 'Secret';
  ObjectName: string;
  Version: string;
  NBF: number | null;
  EXP: number | null;
}

/** An Event Grid schema event as Key Vault's system topic publishes it. */
export interface SecretEvent {
  id: string;
  topic: string;
  subject: string;
  eventType: SecretEventType;
  eventTime: string;
  data: SecretEventData;
  dataVersion: '1';
  metadataVersion: '1';
}

/**
 * Receives the events of one vault; the stack wires it to the Event Grid emulator's system topic.
 * `topic` is the vault's resource id (also every event's `topic`). A rejection leaves the events
 * unpublished, and the emulator tries again on its next sweep.
 */
export type SecretEventPublisher = (topic: string, events: SecretEvent[]) => Promise<void> | void;

export interface VaultIdentity {
  name: string;
  /** `/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{name}` */
  resourceId: string;
  /** Where this vault is served, used for the `Id` of each event. */
  url: string;
}

/**
 * One secret event in the shape Key Vault publishes to Event Grid.
 * @example
 * const event = secretEvent(vault, 'Microsoft.KeyVault.SecretNearExpiry', secret, version, new Date());
 */
export function secretEvent(
  vault: VaultIdentity,
  eventType: SecretEventType,
  secret: StoredSecret,
  version: SecretVersion,
  at: Date,
): SecretEvent {
  return {
    id: randomUUID(),
    topic: vault.resourceId,
    subject: secret.name,
    eventType,
    eventTime: at.toISOString(),
    data: {
      Id: `${vault.url}/secrets/${secret.name}/${version.version}`,
      VaultName: vault.name,
      ObjectType: 'Secret',
      ObjectName: secret.name,
      Version: version.version,
      NBF: version.nbf ?? null,
      EXP: version.exp ?? null,
    },
    dataVersion: '1',
    metadataVersion: '1',
  };
}
