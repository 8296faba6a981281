export interface BreakerSettings {
  /** Consecutive transport failures that open the circuit. */
  threshold: number;
  cooldownMs: number;
  maxCooldownMs: number;
}

interface BreakerState {
  failures: number;
  openUntil: number;
  cooldownMs: number;
}

/**
 * Per-agent circuit breaker. After `threshold` consecutive transport failures, calls fail
 * fast for a cooldown that doubles while the agent stays dead; after it, one trial call
 * goes through. Any answer from the agent closes the circuit at once.
 */
export class CircuitBreakers {
  private readonly states = new Map<string, BreakerState>();

  constructor(private readonly settings: BreakerSettings) {}

  /** Milliseconds left before a trial call is allowed; 0 when calls may go through. */
  blockedFor(key: string, now = Date.now()): number {
    const state = this.states.get(key);
    if (!state || state.openUntil <= now) return 0;
    return state.openUntil - now;
  }

  succeeded(key: string): void {
    this.states.delete(key);
  }

  failed(key: string, now = Date.now()): void {
    const state = this.states.get(key) ?? { failures: 0, openUntil: 0, cooldownMs: this.settings.cooldownMs };
    state.failures += 1;
    if (state.failures >= this.settings.threshold) {
      state.openUntil = now + state.cooldownMs;
      state.cooldownMs = Math.min(state.cooldownMs * 2, this.settings.maxCooldownMs);
    }
    this.states.set(key, state);
  }

  openCount(): number {
    const now = Date.now();
    let n = 0;
    for (const s of this.states.values()) if (s.openUntil > now) n += 1;
    return n;
  }
}
