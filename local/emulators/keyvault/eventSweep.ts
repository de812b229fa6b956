import type { Clock } from '../../clock.js';
import {
  type SecretEvent,
  type SecretEventPublisher,
  type SecretEventType,
  secretEvent,
  type VaultIdentity,
} from './events.js';
import type { PublishedEvents, SecretVersion, StoredSecret } from './model.js';
import type { SecretVault } from './vault.js';

/** Key Vault raises SecretNearExpiry 30 days before `exp`; for secrets this is not configurable. */
export const nearExpiryWindowMs = 30 * 24 * 3600_000;

export interface ServedVault {
  identity: VaultIdentity;
  vault: SecretVault;
}

export interface EventSweepOptions {
  vaults: () => Iterable<ServedVault>;
  clock: Clock;
  publish: SecretEventPublisher | undefined;
  /** Persists the data after a sweep marked events published or purged secrets. */
  persist: () => Promise<void>;
  intervalMs: number;
}

interface Pending {
  event: SecretEvent;
  version: SecretVersion;
  flag: keyof PublishedEvents;
  exp: number | undefined;
}

/**
 * Decides which events are due and publishes each (version, event type) once: new versions, and
 * the current version entering its last 30 days or passing `exp` by the stack's clock. Runs after
 * every change, whenever the clock moves, and every `intervalMs`; sweeps never overlap.
 * @example
 * const sweep = new EventSweep({ vaults, clock, publish, persist, intervalMs: 60_000 });
 * sweep.start();
 * clock.advance(29 * 24 * 3600_000);
 * await sweep.settle(); // the near-expiry events have been handed to `publish`
 */
export class EventSweep {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #onClock = () => this.request();
  /** The last publish failure, kept so tests and the stack can see why events are late. */
  lastError: unknown;

  constructor(private readonly options: EventSweepOptions) {}

  start(): void {
    this.options.clock.on('changed', this.#onClock);
    this.#timer = setInterval(() => this.request(), this.options.intervalMs);
    this.#timer.unref();
    this.request();
  }

  async stop(): Promise<void> {
    this.options.clock.off('changed', this.#onClock);
    clearInterval(this.#timer);
    await this.settle();
  }

  request(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#loop().finally(() => {
      this.#running = undefined;
    });
  }

  /** Resolves when no sweep is running or queued. */
  async settle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #loop(): Promise<void> {
    do {
      this.#again = false;
      await this.#sweepOnce();
    } while (this.#again);
  }

  async #sweepOnce(): Promise<void> {
    const now = this.options.clock.now();
    let changed = false;
    for (const served of this.options.vaults()) {
      if (served.vault.purgeExpiredDeletions() > 0) changed = true;
      if (this.options.publish && (await this.#publishDue(served, now))) changed = true;
    }
    if (changed) await this.options.persist();
  }

  async #publishDue({ identity, vault }: ServedVault, now: Date): Promise<boolean> {
    const due = vault.list().flatMap((secret) => dueEvents(identity, secret, now));
    if (due.length === 0 || !this.options.publish) return false;
    try {
      await this.options.publish(
        identity.resourceId,
        due.map((pending) => pending.event),
      );
    } catch (error) {
      this.lastError = error;
      return false;
    }
    for (const pending of due) {
      // An expiry changed while publishing is a new deadline, still to be announced.
      if (pending.version.exp === pending.exp) pending.version.published[pending.flag] = true;
    }
    return true;
  }
}

function dueEvents(identity: VaultIdentity, secret: StoredSecret, now: Date): Pending[] {
  const pending = (version: SecretVersion, type: SecretEventType, flag: keyof PublishedEvents): Pending => ({
    event: secretEvent(identity, type, secret, version, now),
    version,
    flag,
    exp: version.exp,
  });
  const due = secret.versions
    .filter((version) => !version.published.newVersion)
    .map((version) => pending(version, 'Microsoft.KeyVault.SecretNewVersionCreated', 'newVersion'));
  // Expiry events concern the current version only, as Key Vault documents them.
  const current = secret.versions.at(-1);
  if (current?.exp === undefined) return due;
  const expMs = current.exp * 1000;
  if (now.getTime() >= expMs) {
    if (!current.published.expired) {
      due.push(pending(current, 'Microsoft.KeyVault.SecretExpired', 'expired'));
    }
  } else if (now.getTime() >= expMs - nearExpiryWindowMs && !current.published.nearExpiry) {
    due.push(pending(current, 'Microsoft.KeyVault.SecretNearExpiry', 'nearExpiry'));
  }
  return due;
}
