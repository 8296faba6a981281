import type { Limits, SlotConnection } from '../../../src/plugin-api/index.ts';
import { v1Errors } from '../v1/api-errors.ts';

export interface ViewerCaps {
  perSession: number;
  perUser: number;
}

/**
 * Places for VNC viewers under the per-session and per-user caps, counted in the database so
 * they hold across replicas. A viewer takes both or neither; its place is freed when its
 * connection closes (or its replica stops or leaves).
 */
export class ViewerPlaces {
  constructor(
    private readonly limits: Limits,
    private readonly caps: ViewerCaps,
  ) {}

  /** Takes a place for a viewer of `sessionId` opened by `userId`, or throws 429 naming the full cap. */
  async take(sessionId: string, userId: string, connection: SlotConnection): Promise<void> {
    const session = { key: `vnc-session:${sessionId}`, limit: this.caps.perSession };
    const user = { key: `vnc-user:${userId}`, limit: this.caps.perUser };
    const place = await this.limits.acquireSlot([session, user], connection);
    if (place.ok) return;
    throw place.cap.key === session.key ? v1Errors.tooManyViewers(this.caps.perSession) : v1Errors.tooManyUserViewers(this.caps.perUser);
  }
}
