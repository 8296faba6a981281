import { z } from 'zod';
import { defineEvent } from '../../src/plugin-api/index.ts';

/** code-server stopped or the container went: every replica ends that container's IDE sessions. */
export const ideStopped = defineEvent({
  id: 'dev.ide_stopped',
  description: 'The IDE of a dev container stopped; its IDE sessions end on every replica: `{instance_id}`.',
  audience: 'admins',
  schema: z.object({ instance_id: z.string() }),
});

export const devEvents = [ideStopped];
