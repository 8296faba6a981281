/** A cap one socket counts against: at most `limit` sockets open at once under `key`, on all replicas together. */
export interface SlotCap {
  key: string;
  limit: number;
}

/** The connection a slot belongs to (the upgrade's socket, `upgrade.req.socket`): the slot is freed when it closes. */
export interface SlotConnection {
  readonly destroyed: boolean;
  once(event: 'close', listener: () => void): unknown;
  removeListener(event: 'close', listener: () => void): unknown;
}

/** A place under one or more caps, held by one open socket. */
export interface SocketSlot {
  readonly id: string;
  /** Frees the place (idempotent, never throws). Closing the connection does this too. */
  release(): Promise<void>;
}

/** Either a slot, or the first cap that was full and how many held it. */
export type SlotAcquisition = { ok: true; slot: SocketSlot } | { ok: false; cap: SlotCap; held: number };

/** A token bucket: `burst` at once, then one more every `refillMs`. */
export interface SharedRateRule {
  burst: number;
  refillMs: number;
}

export interface RateDecision {
  allowed: boolean;
  /** When refused: about how long until the bucket has a token again. */
  retryAfterMs: number;
}

/**
 * Limits counted in PostgreSQL, so they hold across every replica. Keys are the plugin's own:
 * the core prefixes them with the plugin id.
 */
export interface Limits {
  /**
   * Takes a place under every cap at once, or none (atomic across replicas). Call it in a
   * WebSocket's `authorize`, last, with the upgrade's socket: the place is held while that
   * connection is open, freed when it closes (refused upgrades included), and stops counting
   * when this replica stops or leaves the registry.
   */
  acquireSlot(caps: readonly SlotCap[], connection: SlotConnection): Promise<SlotAcquisition>;
  /**
   * Spends one token of the bucket `key`, shared by every replica. A replica leases tokens in
   * small batches, so a busy bucket costs a database round trip every few messages, and knows
   * when an empty bucket refills, so a flood against it costs none.
   */
  takeToken(key: string, rule: SharedRateRule): Promise<RateDecision>;
}
