import argon2, { type HashOptions } from 'argon2';
import { ServiceUnavailableError } from '../http/errors.ts';

export interface HashSettings {
  memoryKib: number;
  timeCost: number;
  parallelism: number;
  concurrency: number;
  queueMax: number;
}

/**
 * argon2id with a bounded number of hashes in flight. argon2 already runs off the event
 * loop, but unbounded concurrent hashes would fill libuv's small thread pool (stalling file
 * and DNS work) and multiply the memory cost; past the queue limit we answer 503 quickly
 * rather than queue forever.
 */
export class PasswordHasher {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  private dummy: Promise<string> | null = null;

  constructor(private readonly settings: HashSettings) {}

  private options(): HashOptions & { raw?: false } {
    return { type: argon2.argon2id, memoryCost: this.settings.memoryKib, timeCost: this.settings.timeCost, parallelism: this.settings.parallelism };
  }

  private async slot<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.settings.concurrency) {
      if (this.waiting.length >= this.settings.queueMax) throw new ServiceUnavailableError('AUTH_BUSY', 'Too many sign-ins at once; retry in a moment', 1);
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.active += 1;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active -= 1;
    }
  }

  hash(password: string): Promise<string> {
    return this.slot(() => argon2.hash(password, this.options()));
  }

  /** False for a malformed hash too: a broken row must not let anyone in. */
  verify(hash: string, password: string): Promise<boolean> {
    return this.slot(async () => {
      try {
        return await argon2.verify(hash, password);
      } catch {
        return false;
      }
    });
  }

  /** Spends the same time as a real verify, for accounts that do not exist. */
  async verifyDummy(password: string): Promise<void> {
    this.dummy ??= this.hash('not-a-real-password-for-timing').catch((err: unknown) => {
      this.dummy = null;
      throw err;
    });
    await this.verify(await this.dummy, password);
  }

  /** True when the stored hash was made with weaker settings than today's. */
  needsRehash(hash: string): boolean {
    try {
      return argon2.needsRehash(hash, this.options());
    } catch {
      return true;
    }
  }
}
