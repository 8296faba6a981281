import type { Knex } from 'knex';
import type { Config } from '../../config/schema.ts';
import type { CoreModule } from '../boot/core-module.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AgentClient } from '../agent/agent-client.ts';
import type { AgentStreams } from '../agent/agent-streams.ts';
import type { InstanceService } from '../instances/instance-service.ts';
import type { Files } from '../../plugin-api/files.ts';
import { SignedUrls } from './signed-urls.ts';
import { signedFileRoutes } from './signed-file-routes.ts';
import { fileRoutes } from './file-routes.ts';
import { pruneSignedUrlsJob } from './jobs/prune-signed-urls.ts';

export interface FilesModule extends CoreModule {
  /** What plugins get: file-manager routes for their instances, raw streams and signed download URLs. */
  files: Files;
}

export interface FilesModuleOptions {
  db: Knex;
  config: Readonly<Config>;
  urlSigningKey: string;
  instances: InstanceService;
  agents: AgentClient;
  streams: AgentStreams;
  audit: AuditLog;
}

/** File transfers to and from agents, and the signed URLs that let a browser do them without a bearer header. */
export function createFilesModule(options: FilesModuleOptions): FilesModule {
  const { db, config, instances, agents, streams, audit } = options;
  const signed = new SignedUrls(db, options.urlSigningKey, 300);
  const publicUrl = config.server.public_url;
  return {
    name: 'files',
    routes: signedFileRoutes(db, signed, instances, streams, audit),
    jobs: [pruneSignedUrlsJob(signed)],
    files: {
      routes: (fileOptions) => fileRoutes({ signed, publicUrl, instances, agents, streams, audit, maxUploadBytes: config.files.max_upload_bytes }, fileOptions),
      streams,
      signedDownloadUrl: (grant) => {
        const issued = signed.issue({ ...grant, direction: 'download' });
        return { url: `${publicUrl.replace(/\/$/, '')}/api/files/signed?token=${encodeURIComponent(issued.token)}`, expiresAt: issued.expiresAt };
      },
    },
  };
}
