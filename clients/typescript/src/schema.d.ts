/**
 * GENERATED FILE, do not edit: the types of the panel's OpenAPI document (GET /openapi.json
 * with every shipped plugin enabled), made by openapi-typescript.
 *
 * Regenerate after changing a route, a schema or a summary:  npm run client:generate
 * test/clients/typed-client-stale.test.ts fails while this file differs from the document.
 */

export interface paths {
    "/agent/ws": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The agent control socket: a StreamSpace agent registers and takes commands
         * @description One JSON message per text frame; the first must be `register` (answered `register_ack` with `heartbeat_interval`, like "10s"); malformed or unknown messages are logged and ignored. VNC streams ride binary frames that start with the 36-byte proxy_id (`vnc_proxy_request` / `_ready` / `_error` / `_window` / `_close`). No Origin check: agents are not browsers.
         *
         *     A WebSocket upgrade (RFC 6455): send `Connection: Upgrade` and `Upgrade: websocket`; refusals come as the error envelope before any upgrade.
         */
        get: operations["connectStreamspaceAgent"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/agents": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List registered agents (the static pool) */
        get: operations["getApiAdminAgents"];
        put?: never;
        /** Register an agent; it must answer /health and be semantically ready first */
        post: operations["postApiAdminAgents"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/agents/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Unregister a free agent */
        delete: operations["deleteApiAdminAgentsId"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/agents/{id}/ready-for-reuse": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** After wiping a released agent's data, put it back in the pool (it must be healthy and ready) */
        post: operations["postApiAdminAgentsIdReadyForReuse"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/audit": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Read the audit log, newest first */
        get: operations["getApiAdminAudit"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/billing/accounts": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Billing accounts of every user, filterable by status and searchable by username or email */
        get: operations["getApiAdminBillingAccounts"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/billing/accounts/{user_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One billing account with its recent Stripe events */
        get: operations["getApiAdminBillingAccountsUserId"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /** Sets or clears billing exemption (an exempt user has no plan limits, whatever Stripe says) */
        patch: operations["patchApiAdminBillingAccountsUserId"];
        trace?: never;
    };
    "/api/admin/billing/accounts/{user_id}/sync": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Reads the user's subscription from Stripe now and stores it */
        post: operations["postApiAdminBillingAccountsUserIdSync"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/billing/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Stripe webhook events received, newest first, with how each was handled */
        get: operations["getApiAdminBillingEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/billing/reconcile": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Runs the reconciliation now: re-reads stale or unsettled subscriptions and replays undelivered events */
        post: operations["postApiAdminBillingReconcile"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/instances": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List instances of all plugins with their normalized state */
        get: operations["getApiAdminInstances"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/users": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List users */
        get: operations["getApiAdminUsers"];
        put?: never;
        /** Create a user */
        post: operations["postApiAdminUsers"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/admin/users/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Read a user */
        get: operations["getApiAdminUsersId"];
        put?: never;
        post?: never;
        /** Delete a user (refused for the last active admin, and while they own instances) */
        delete: operations["deleteApiAdminUsersId"];
        options?: never;
        head?: never;
        /**
         * Change a user's role, disabled flag or email
         * @description Disabling ends every session of the user at once. The last active admin cannot be demoted or disabled (409 LAST_ADMIN).
         */
        patch: operations["patchApiAdminUsersId"];
        trace?: never;
    };
    "/api/auth/login": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Sign in with a username or email and a password
         * @description A wrong password and an unknown account get the same 401 body. Limited per account and IP, and per IP.
         */
        post: operations["postApiAuthLogin"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/logout": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** End this session: the access token and its refresh family stop working at once */
        post: operations["postApiAuthLogout"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/me": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The signed-in user */
        get: operations["getApiAuthMe"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/password-reset": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Ask for a password-reset mail
         * @description Always 202 with the same body and the same work on the request path, whether or not an account uses the email. The mail goes out within a few seconds (the mail job runs every 5 s).
         */
        post: operations["postApiAuthPasswordReset"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/password-reset/confirm": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Set a new password with a reset token; ends every session of the account */
        post: operations["postApiAuthPasswordResetConfirm"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/refresh": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Trade a refresh token for a new access token and a new refresh token
         * @description The presented token is spent. Presenting a spent token again revokes its whole family (401 AUTH_REFRESH_REUSED), except within a short grace window, where a concurrent refresh gets the same new token.
         */
        post: operations["postApiAuthRefresh"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/auth/register": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Create an account (when self-registration is on) */
        post: operations["postApiAuthRegister"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/billing": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The caller's plan, subscription status, limits and usage */
        get: operations["getApiBilling"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/billing/checkout": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * A Stripe Checkout page for subscribing to a plan
         * @description Open `url`; the subscription is recorded when Stripe's webhook arrives (watch `billing.updated` on /api/events).
         */
        post: operations["postApiBillingCheckout"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/billing/downgrade": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Moves to a cheaper plan at the end of the current period (shown as pending_plan until then)
         * @description Stripe bills the new price from the next period; the current plan and its limits stay until then.
         */
        post: operations["postApiBillingDowngrade"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/billing/plans": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The plans, cheapest first, with their limits */
        get: operations["getApiBillingPlans"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/billing/portal": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** A Stripe Customer Portal page (invoices, payment method, cancel); changes made there arrive by webhook */
        post: operations["postApiBillingPortal"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/billing/upgrade": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Moves to a dearer plan; it takes effect once the prorated invoice is paid
         * @description Stripe invoices the difference now (`payment_behavior: pending_if_incomplete`): if that payment fails, the subscription and the plan stay as they were.
         */
        post: operations["postApiBillingUpgrade"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/billing/webhook": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Stripe events (signed; read raw, before any JSON parser)
         * @description Verified with the Stripe-Signature header. Each event id is recorded with its effects in one transaction; a repeated event answers 200 and changes nothing; a failure answers 5xx so Stripe retries.
         */
        post: operations["postApiBillingWebhook"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/dev": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The caller's dev containers with their cached state (admins: everyone's, or one user's with ?user_id=) */
        get: operations["getApiDev"];
        put?: never;
        /**
         * Creates a dev container with its own vmid; it answers in `provisioning` and becomes `active` once its agent is ready
         * @description Start the IDE with POST /api/dev/:id/codeserver/start, then open it with POST /api/dev/:id/ide-token.
         */
        post: operations["postApiDev"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/dev/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One dev container with its cached state, including the IDE's */
        get: operations["getApiDevId"];
        put?: never;
        post?: never;
        /** Deletes a dev container: `deleting`, its IDE sessions end at once, its agent is released, then it is gone */
        delete: operations["deleteApiDevId"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/dev/{id}/codeserver/restart": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Restarts the container's IDE (agent POST /dev/codeserver/restart)
         * @description Ends every IDE session of the container: open IDE tabs get 401 and their WebSockets close; open the IDE again from the portal.
         */
        post: operations["postApiDevIdCodeserverRestart"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/dev/{id}/codeserver/start": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Starts the container's IDE (agent POST /dev/codeserver/start)
         * @description Answers 202 with the IDE state the agent reports, once the container's state shows it: an `ide-token` right after it sees the IDE running.
         */
        post: operations["postApiDevIdCodeserverStart"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/dev/{id}/codeserver/stop": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Stops the container's IDE (agent POST /dev/codeserver/stop)
         * @description Ends every IDE session of the container: open IDE tabs get 401 and their WebSockets close; open the IDE again from the portal.
         */
        post: operations["postApiDevIdCodeserverStop"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/dev/{id}/files": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Lists a directory of the dev container's data */
        get: operations["getApiDevIdFiles"];
        put?: never;
        post?: never;
        /** Deletes a file or a directory with everything in it */
        delete: operations["deleteApiDevIdFiles"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/dev/{id}/files/content": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Downloads a file, streamed (Content-Disposition: attachment), whole or one byte range
         * @description Resumable: send `Range: bytes=a-b` (or `bytes=a-`, or `bytes=-n` for the last n bytes; one range only) and optionally `If-Range` with the `ETag` or `Last-Modified` of an earlier answer. 206 carries `Content-Range: bytes a-b/<size>` and only those bytes; 200 sends the whole file with `Accept-Ranges: bytes` when there is no range, the header is not one single byte range (several ranges are ignored, as RFC 9110 allows), or If-Range no longer matches (the file changed); 416 when the range starts at or past the end.
         */
        get: operations["getApiDevIdFilesContent"];
        /**
         * Uploads a file: the raw body is streamed to the agent (temporary file, then renamed into place)
         * @description Send the bytes as the body (any Content-Type). Over 10737418240 bytes answers 413 as soon as the limit is crossed, and nothing is left on the dev container.
         */
        put: operations["putApiDevIdFilesContent"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/dev/{id}/files/download-url": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** A signed URL a browser can download the file from (usable a few times, for resumed downloads) for 5 minutes, without the bearer header */
        post: operations["postApiDevIdFilesDownloadUrl"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/dev/{id}/files/mkdir": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Creates a directory (and its parents) */
        post: operations["postApiDevIdFilesMkdir"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/dev/{id}/files/upload-url": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** A signed URL a browser can PUT the file to (usable once) for 5 minutes, without the bearer header */
        post: operations["postApiDevIdFilesUploadUrl"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/dev/{id}/ide-token": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * A single-use link (about 60 s) that opens the container's IDE in the browser
         * @description Open `url` in a new tab: the IDE spends the token, sets its own session cookie and redirects to itself without the token. Hosted form `https://dev-<vmid>.<suffix>/?ide_token=`, or path form `<host>/__ide/<id>/?ide_token=` (DEV_IDE_RETURN_HOSTED_URL=false with path mode on). The session ends with the sign-in it came from (logout, password reset, disable), when the container is deleted or changes hands, and when the IDE is stopped.
         */
        post: operations["postApiDevIdIdeToken"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Server-Sent Events: the caller's live state changes (admins: everyone's, or one user's)
         * @description text/event-stream. Each event has `id`, `event` (its type) and JSON `data`. Send Last-Event-ID (or ?last_event_id=) to resume after a disconnect; recent events are kept for a day. A comment line is sent every heartbeat. Authenticate with the bearer header, or ?ticket= from POST /api/events/ticket.
         *
         *     Event types (`owner`: the owner and admins see it; `admins`: only admins):
         *     - `backup.updated` (owner): A backup was created, changed state, restored or deleted: `{server_id, backup, deleted?, restore?}`.
         *     - `billing.updated` (owner): The caller's subscription changed: `{plan, status, current_period_end, cancel_at_period_end, pending_plan}`.
         *     - `dev.ide_stopped` (admins): The IDE of a dev container stopped; its IDE sessions end on every replica: `{instance_id}`.
         *     - `instance.deleted` (owner): An instance was deleted and its agent released: `{instance_id, kind, plugin}`.
         *     - `instance.state` (owner): An instance's normalized state changed: `{instance_id, kind, plugin, state, reason?}`.
         *     - `streamspace.agent_key_changed` (admins): A StreamSpace agent key was issued, rotated or revoked: `{agent_id}`.
         *     - `streamspace.agent_offline` (admins): A StreamSpace agent missed 3 heartbeats and is offline: `{agent_id, conn_id}`.
         *     - `streamspace.agent_replaced` (admins): A StreamSpace agent registered again (another connection replaces the old one): `{agent_id, conn_id}`.
         *     - `streamspace.commands_pending` (admins): Commands wait for a StreamSpace agent connected to another replica: `{agent_id}`.
         *     - `streamspace.session_reconciled` (owner): A StreamSpace session was reconciled with what its agent reported: `{session_id, agent_id, action, reason}`; action is `failed` (lost on the agent), `stop` or `hibernate` (a command sent to the agent).
         *     - `streamspace.session_state` (owner): A StreamSpace session changed state: `{session_id, state, phase}`.
         *     - `user.sessions_ended` (owner): Some or all of a user's sign-ins ended (logout, password reset, disable): `{user_id, reason, family_ids}`; sockets and IDE sessions tied to them close.
         */
        get: operations["getApiEvents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/events/ticket": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** A single-use, 60-second ticket for opening the event stream without an Authorization header (EventSource) */
        post: operations["postApiEventsTicket"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/files/signed": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Downloads through a signed URL (from .../files/download-url or .../backups/:id/download-url); usable a few times within 5 minutes, for resumed downloads
         * @description Resumable: send `Range: bytes=a-b` (or `bytes=a-`, or `bytes=-n` for the last n bytes; one range only) and optionally `If-Range` with the `ETag` or `Last-Modified` of an earlier answer. 206 carries `Content-Range: bytes a-b/<size>` and only those bytes; 200 sends the whole file with `Accept-Ranges: bytes` when there is no range, the header is not one single byte range (several ranges are ignored, as RFC 9110 allows), or If-Range no longer matches (the file changed); 416 when the range starts at or past the end.
         */
        get: operations["getApiFilesSigned"];
        /** Uploads through a signed URL (from .../files/upload-url); usable once within 5 minutes */
        put: operations["putApiFilesSigned"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/game/servers": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The caller's game servers with their cached state (admins: everyone's, or one user's with ?user_id=) */
        get: operations["getApiGameServers"];
        put?: never;
        /**
         * Creates a game server; it answers in `provisioning` and becomes `active` once its agent is semantically ready
         * @description Watch `instance.state` on /api/events (or poll GET) for the change. A server that is not ready before the provisioning deadline becomes `failed` with `lifecycle_reason`.
         */
        post: operations["postApiGameServers"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/game/servers/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One game server with its cached state (never waits on the agent) */
        get: operations["getApiGameServersId"];
        put?: never;
        post?: never;
        /** Deletes a game server: it answers in `deleting`, its agent is released, then the server and all its backups (locked or not) are gone */
        delete: operations["deleteApiGameServersId"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/game/servers/{id}/backups": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The server's backups, newest first, reconciled with the agent's list */
        get: operations["getApiGameServersIdBackups"];
        put?: never;
        /**
         * Starts a backup; it answers `in_progress`, and `backup.updated` events follow until it is `completed` or `failed`
         * @description At most the template's backup limit per server, and no more than the owner's plan allows (failed ones do not count); 2 new backups per 10 minutes per server.
         */
        post: operations["postApiGameServersIdBackups"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/game/servers/{id}/backups/{backupId}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Deletes a backup on the agent and its record; a backup the agent no longer has is still removed here */
        delete: operations["deleteApiGameServersIdBackupsBackupId"];
        options?: never;
        head?: never;
        /** Locks or unlocks a backup (a locked backup cannot be deleted; deleting the server still removes it) */
        patch: operations["patchApiGameServersIdBackupsBackupId"];
        trace?: never;
    };
    "/api/game/servers/{id}/backups/{backupId}/download": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Downloads a backup's archive (.tar.gz), streamed, with X-Checksum-Sha256
         * @description Resumable: send `Range: bytes=a-b` (or `bytes=a-`, or `bytes=-n` for the last n bytes; one range only) and optionally `If-Range` with the `ETag` or `Last-Modified` of an earlier answer. 206 carries `Content-Range: bytes a-b/<size>` and only those bytes; 200 sends the whole file with `Accept-Ranges: bytes` when there is no range, the header is not one single byte range (several ranges are ignored, as RFC 9110 allows), or If-Range no longer matches (the file changed); 416 when the range starts at or past the end.
         */
        get: operations["getApiGameServersIdBackupsBackupIdDownload"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/game/servers/{id}/backups/{backupId}/download-url": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** A signed URL (5 minutes, a few uses) from which a browser can download the backup's archive without the bearer header */
        post: operations["postApiGameServersIdBackupsBackupIdDownloadUrl"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/game/servers/{id}/backups/restore": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Restores a completed backup: the server is `restoring_backup` (power and console refused) until the agent reports it done or failed, then `active` again with its workload stopped
         * @description A restore that fails or times out leaves `lifecycle_reason` saying so; `backup.updated` carries `restore.state`.
         */
        post: operations["postApiGameServersIdBackupsRestore"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/game/servers/{id}/backups/upload": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /**
         * Uploads a .tar.gz archive (raw body, streamed) as a new backup; the agent checks it is a readable archive first
         * @description Counts against the backup limit like any backup. The new backup is `completed` and can be restored.
         */
        put: operations["putApiGameServersIdBackupsUpload"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/game/servers/{id}/console": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The server console as a WebSocket (relayed to the agent's /console)
         * @description Client frames (text, JSON): {"type":"command","command":"..."} (1..4096 characters). Server frames: {"type":"line","data":"..."}, {"type":"state","state":"running"}, {"type":"throttled","scope":"socket"|"server","retry_after_ms":N}, {"type":"error","code":"BAD_FRAME"}. The Origin must be PUBLIC_URL's or in ALLOWED_ORIGINS.
         *
         *     A WebSocket upgrade (RFC 6455): send `Connection: Upgrade` and `Upgrade: websocket`; refusals come as the error envelope before any upgrade.
         */
        get: operations["openGameServerConsole"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/game/servers/{id}/console/command": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Sends one command to the server console (forwarded to the agent as POST /console/command) */
        post: operations["postApiGameServersIdConsoleCommand"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/game/servers/{id}/console/logs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The last console lines, newest last (from the agent) */
        get: operations["getApiGameServersIdConsoleLogs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/game/servers/{id}/console/ticket": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * A single-use, 60-second ticket for opening the console WebSocket (browsers cannot send an Authorization header on upgrades)
         * @description Open `url` (WS /api/game/servers/:id/console?ticket=) within the ticket's life. Client frames: {"type":"command","command":"..."}; server frames: {"type":"line","data":"..."}, {"type":"state","state":"running"}, {"type":"throttled","scope":"socket"|"server","retry_after_ms":N} (`socket`: this socket sent too fast and is closed with 4429 if it goes on; `server`: all consoles of the server together did, across replicas, and that command was dropped), {"type":"error","code":"BAD_FRAME"}. Close codes: 4502 the agent's console went away (get a new ticket and reconnect), 4429 this socket sent too many messages, 4404 server deleted, 4403 your sessions ended, 4409 the server left `active`, 4408 output read too slowly, 1009 a message over 4 KiB, 1001 the API is restarting (reconnect).
         */
        post: operations["postApiGameServersIdConsoleTicket"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/game/servers/{id}/files": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Lists a directory of the server's data */
        get: operations["getApiGameServersIdFiles"];
        put?: never;
        post?: never;
        /** Deletes a file or a directory with everything in it */
        delete: operations["deleteApiGameServersIdFiles"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/game/servers/{id}/files/content": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Downloads a file, streamed (Content-Disposition: attachment), whole or one byte range
         * @description Resumable: send `Range: bytes=a-b` (or `bytes=a-`, or `bytes=-n` for the last n bytes; one range only) and optionally `If-Range` with the `ETag` or `Last-Modified` of an earlier answer. 206 carries `Content-Range: bytes a-b/<size>` and only those bytes; 200 sends the whole file with `Accept-Ranges: bytes` when there is no range, the header is not one single byte range (several ranges are ignored, as RFC 9110 allows), or If-Range no longer matches (the file changed); 416 when the range starts at or past the end.
         */
        get: operations["getApiGameServersIdFilesContent"];
        /**
         * Uploads a file: the raw body is streamed to the agent (temporary file, then renamed into place)
         * @description Send the bytes as the body (any Content-Type). Over 10737418240 bytes answers 413 as soon as the limit is crossed, and nothing is left on the server.
         */
        put: operations["putApiGameServersIdFilesContent"];
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/game/servers/{id}/files/download-url": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** A signed URL a browser can download the file from (usable a few times, for resumed downloads) for 5 minutes, without the bearer header */
        post: operations["postApiGameServersIdFilesDownloadUrl"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/game/servers/{id}/files/mkdir": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Creates a directory (and its parents) */
        post: operations["postApiGameServersIdFilesMkdir"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/game/servers/{id}/files/upload-url": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** A signed URL a browser can PUT the file to (usable once) for 5 minutes, without the bearer header */
        post: operations["postApiGameServersIdFilesUploadUrl"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/game/servers/{id}/restart": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Restarts the server's workload (forwarded to the agent as POST /restart)
         * @description Answers 202 with the status the agent now expects, once the server's state shows it (a GET right after sees `starting` or `stopping`, not the old status); `instance.state` events follow as it moves on.
         */
        post: operations["postApiGameServersIdRestart"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/game/servers/{id}/start": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Starts the server's workload (forwarded to the agent as POST /start)
         * @description Answers 202 with the status the agent now expects, once the server's state shows it (a GET right after sees `starting` or `stopping`, not the old status); `instance.state` events follow as it moves on.
         */
        post: operations["postApiGameServersIdStart"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/game/servers/{id}/stop": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Stops the server's workload (forwarded to the agent as POST /stop)
         * @description Answers 202 with the status the agent now expects, once the server's state shows it (a GET right after sees `starting` or `stopping`, not the old status); `instance.state` events follow as it moves on.
         */
        post: operations["postApiGameServersIdStop"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/game/templates": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Server templates a user may pick when creating a server */
        get: operations["getApiGameTemplates"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/admin/agent-keys": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Issue (or rotate) the key an agent connects with (admin)
         * @description The key is shown once; only its hash is stored. Issuing again for the same agent_id rotates it: the old key stops working, and a connection opened with it is closed (4401).
         */
        post: operations["postApiV1AdminAgentKeys"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/admin/agent-keys/{agent_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Revoke an agent's key and close its connection (admin) */
        delete: operations["deleteApiV1AdminAgentKeysAgentId"];
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/agents": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List agents (admin) */
        get: operations["getApiV1Agents"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/agents/{agent_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get an agent with its sessions (admin) */
        get: operations["getApiV1AgentsAgentId"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /**
         * Drain an agent, or put it back online (admin)
         * @description `draining` stops new sessions from being placed there (existing ones continue) and survives heartbeats and reconnects. `offline` is set by the control plane alone and is refused (400).
         */
        patch: operations["patchApiV1AgentsAgentId"];
        trace?: never;
    };
    "/api/v1/agents/stats": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Agent statistics (admin)
         * @description Capacity totals count online and draining agents, not offline ones.
         */
        get: operations["getApiV1AgentsStats"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/auth/login": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Log in with username (or email) and password for a 24-hour token
         * @description Counted per IP and username (5/min), per IP (20/min), and per account across IPs together with the portal login (auth_login_account). A disabled account gets 403 AUTH_USER_DISABLED.
         */
        post: operations["postApiV1AuthLogin"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/auth/logout": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Revoke this token server-side
         * @description Fails closed: if the revocation cannot be stored the answer is an error, never a success.
         */
        post: operations["postApiV1AuthLogout"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/sessions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * List sessions
         * @description Non-admins see only their own. Terminated sessions are left out unless state=terminated.
         */
        get: operations["getApiV1Sessions"];
        put?: never;
        /**
         * Create a session (202: provisioning starts)
         * @description Placed on the least-loaded online agent of the platform/region with a free place. `user` defaults to the caller; a non-admin naming another user gets 403. Counted 10/min per user.
         */
        post: operations["postApiV1Sessions"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/sessions/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get a session */
        get: operations["getApiV1SessionsId"];
        put?: never;
        post?: never;
        /**
         * Terminate a session
         * @description 204 once the stop is accepted (the session then moves through terminating to terminated). A terminated session: 204 no-op. While terminating: 409 SESSION_TERMINATING. `force=true` ends it at once, even with the agent offline; the agent is sent one stop.
         */
        delete: operations["deleteApiV1SessionsId"];
        options?: never;
        head?: never;
        /**
         * Hibernate, wake or terminate a session
         * @description Transitions: running→hibernated, hibernated→running, running|hibernated→terminating, any→terminated (admin only, forced). Waits up to `state_wait_ms` for the agent: 200 with the final state, else 202 with the transitional one. Asking for the current state is a 200 no-op. If the agent reports failure: 500 SESSION_PROVISIONING_FAILED (wake) or 502 AGENT_COMMAND_FAILED (hibernate, terminate), the session back in its previous state.
         */
        patch: operations["patchApiV1SessionsId"];
        trace?: never;
    };
    "/api/v1/sessions/{id}/commands": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** A session's command log (admin) */
        get: operations["getApiV1SessionsIdCommands"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/sessions/{id}/logs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Read a session's container logs from its agent */
        get: operations["getApiV1SessionsIdLogs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/sessions/{id}/vnc-token": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * A single-use token (60 s) to open this session in a VNC viewer
         * @description Bound to this session and to the login that asked for it: after a logout it opens nothing, and a viewer opened with it closes on logout. `vnc_url` is the WebSocket with the token in its query; `viewer_url` is the browser viewer page (GET /vnc-viewer/{session_id}) with the token in its fragment.
         */
        get: operations["getApiV1SessionsIdVncToken"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/templates": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List templates */
        get: operations["getApiV1Templates"];
        put?: never;
        /** Create a template (admin) */
        post: operations["postApiV1Templates"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/api/v1/templates/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Get a template */
        get: operations["getApiV1TemplatesName"];
        put?: never;
        post?: never;
        /** Delete a template (admin) */
        delete: operations["deleteApiV1TemplatesName"];
        options?: never;
        head?: never;
        /**
         * Change a template (admin)
         * @description Any subset of the fields; sessions already created keep what they were created with.
         */
        patch: operations["patchApiV1TemplatesName"];
        trace?: never;
    };
    "/api/v1/users": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List users (admin) */
        get: operations["getApiV1Users"];
        put?: never;
        /**
         * Create a user (admin)
         * @description A duplicate username or email answers 409 USER_EXISTS.
         */
        post: operations["postApiV1Users"];
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/docs": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * This API's reference, browsable (an HTML page rendering /openapi.json)
         * @description Open it in a browser: Redoc, served by the API itself under `/docs/assets/`, renders GET /openapi.json. Nothing is loaded from another origin; the page has a strict Content-Security-Policy.
         */
        get: operations["getDocs"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Liveness: the process is up */
        get: operations["getHealthz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Prometheus metrics (bearer METRICS_TOKEN; 404 when no token is configured) */
        get: operations["getMetrics"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This API as an OpenAPI 3.1 document */
        get: operations["getOpenapiJson"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Readiness: database reachable and migrated, not shutting down */
        get: operations["getReadyz"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/vnc-viewer/{session_id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * The browser viewer of a session (an HTML page running noVNC)
         * @description Open `/vnc-viewer/{session_id}#token=<token>` (the `viewer_url` of GET /api/v1/sessions/{id}/vnc-token, or the login token): the page reads the token from the fragment, which never reaches the server, and opens the WebSocket `/vnc-viewer/{session_id}?token=` on the same origin. Loading the page needs no token; the socket checks it. With an Upgrade header the same path is that WebSocket (see the streamspace tag). The page's script, style and noVNC are served under `/vnc-viewer/_assets/`.
         *
         *     With `Upgrade: websocket`: The session's VNC stream (raw RFB in binary frames). Pass ?token= (the login token, or a single-use one from GET /api/v1/sessions/{id}/vnc-token). The Origin must be the panel's.
         */
        get: operations["getVncViewerSessionId"];
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: {
        AdminInstance: {
            /** Format: date-time */
            created_at: string;
            /** Format: uuid */
            id: string;
            kind: string;
            lifecycle_reason: string | null;
            name: string;
            /** Format: uuid */
            owner_id: string;
            plugin: string;
            state: components["schemas"]["InstanceState"];
            /** Format: date-time */
            updated_at: string;
        };
        AuditEntry: {
            action: string;
            actor_user_id: string | null;
            /** Format: date-time */
            at: string;
            details: {
                [key: string]: unknown;
            };
            id: number;
            ip: string | null;
            request_id: string | null;
            target_user_id: string | null;
        };
        Backup: {
            completed_at: string | null;
            /** Format: date-time */
            created_at: string;
            /** Format: uuid */
            id: string;
            locked: boolean;
            name: string;
            sha256: string | null;
            size_bytes: number | null;
            /** @enum {string} */
            state: "in_progress" | "completed" | "failed";
        };
        BillingAccount: {
            cancel_at_period_end: boolean;
            current_period_end: string | null;
            email: string;
            exempt: boolean;
            last_synced_at: string | null;
            pending_plan: string | null;
            plan: string;
            /** @enum {string} */
            status: "none" | "trialing" | "active" | "past_due" | "canceled" | "incomplete";
            stripe_customer_id: string | null;
            subscription_id: string | null;
            /** Format: uuid */
            user_id: string;
            username: string;
        };
        DevContainer: {
            /** @description the IDE, from the last poll */
            codeserver: {
                /** @enum {string} */
                state: "running" | "stopped" | "unknown";
            };
            /** Format: date-time */
            created_at: string;
            /** Format: uuid */
            id: string;
            lifecycle_reason: string | null;
            name: string;
            /** Format: uuid */
            owner_id: string;
            resources: {
                cpu_cores: number;
                disk_mb: number;
                memory_mb: number;
            };
            state: components["schemas"]["InstanceState"];
            template: string;
            /** Format: date-time */
            updated_at: string;
            vmid: number;
        };
        /** @description Error envelope returned by every non-2xx answer */
        Error: {
            code: string;
            details: {
                [key: string]: unknown;
            };
            error: string;
            message: string;
            request_id: string;
            /** @description On 429: seconds until the limit resets (also in details and Retry-After) */
            retry_after?: number;
            /** Format: date-time */
            timestamp: string;
        };
        FileEntry: {
            modified_at: string;
            name: string;
            size_bytes: number;
            /** @enum {string} */
            type: "file" | "dir";
        };
        GameServer: {
            backup_limit: number;
            /** Format: date-time */
            created_at: string;
            /** Format: uuid */
            id: string;
            lifecycle_reason: string | null;
            name: string;
            /** Format: uuid */
            owner_id: string;
            resources: {
                cpu_cores: number;
                disk_mb: number;
                memory_mb: number;
            };
            state: components["schemas"]["InstanceState"];
            template: string;
            /** Format: date-time */
            updated_at: string;
        };
        InstanceState: {
            checked_at: string | null;
            details: {
                [key: string]: unknown;
            };
            error: {
                code: string;
                message: string;
            } | null;
            last_seen_at: string | null;
            /** @enum {string} */
            lifecycle: "provisioning" | "active" | "failed" | "suspended" | "restoring_backup" | "deleting";
            reachable: boolean;
            ready: boolean;
            stale: boolean;
            /** @enum {string} */
            status: "installing" | "stopped" | "starting" | "running" | "stopping" | "crashed" | "unknown";
        };
        Pagination: {
            limit: number;
            page: number;
            total: number;
            total_pages: number;
        };
        PlanLimits: {
            backups_per_server: number;
            dev_containers: number;
            game_servers: number;
        };
        PoolAgent: {
            base_url: string;
            /** Format: date-time */
            created_at: string;
            /** Format: uuid */
            id: string;
            instance_id: string | null;
            kind: string;
            name: string;
            /** @description Released by an instance: still holds its data until an admin wipes it and marks it ready for reuse */
            needs_wipe: boolean;
        };
        StreamspaceAgent: {
            agent_id: string;
            capacity: {
                current_sessions: number;
                max_sessions: number;
            } & {
                [key: string]: unknown;
            };
            /** Format: date-time */
            created_at: string;
            /** Format: uuid */
            id: string;
            last_heartbeat: string | null;
            metadata: {
                [key: string]: unknown;
            };
            platform: string;
            region: string | null;
            /** @enum {string} */
            status: "online" | "offline" | "draining";
            /** Format: date-time */
            updated_at: string;
            websocket_conn_id: string | null;
        };
        StreamspaceSession: {
            agent_id: string;
            /** Format: date-time */
            created_at: string;
            /** Format: uuid */
            id: string;
            idle_timeout: string;
            /** Format: date-time */
            last_activity: string;
            name: string;
            namespace: string;
            persistent_home: boolean;
            platform: string;
            platform_metadata: {
                [key: string]: unknown;
            };
            region: string | null;
            resources: {
                [key: string]: string;
            };
            /** @enum {string} */
            state: "pending" | "running" | "hibernating" | "hibernated" | "waking" | "terminating" | "terminated" | "failed";
            status: {
                container_id: string | null;
                error_code: string | null;
                message: string;
                phase: string;
                pod_ip: string | null;
                pod_name: string | null;
                started_at: string | null;
                vnc_url: string | null;
            };
            tags: string[];
            template: string;
            /** Format: date-time */
            updated_at: string;
            user: string;
        };
        StreamspaceTemplate: {
            base_image: string;
            category: string;
            /** Format: date-time */
            created_at: string;
            default_resources: {
                cpu: string;
                memory: string;
                storage?: string;
            };
            description: string;
            display_name: string;
            environment: {
                [key: string]: string;
            };
            icon_url: string | null;
            /** Format: uuid */
            id: string;
            /** @default 30m */
            idle_timeout: string;
            /** @default null */
            local: {
                command: string;
                /** @default [] */
                packages: string[];
            } | null;
            name: string;
            /** @default true */
            persistent_home: boolean;
            tags: string[];
            /** Format: date-time */
            updated_at: string;
            vnc: {
                color_depth?: 8 | 16 | 24 | 32;
                enabled: boolean;
                port: number;
                resolution?: string;
            };
        };
        StreamspaceUser: {
            active: boolean;
            /** Format: date-time */
            created_at: string;
            email: string;
            /** Format: uuid */
            id: string;
            last_login: string | null;
            /** @enum {string} */
            role: "admin" | "user";
            username: string;
        };
        StripeEvent: {
            detail: string | null;
            id: string;
            outcome: string;
            /** Format: date-time */
            received_at: string;
            /** Format: date-time */
            stripe_created_at: string;
            type: string;
            user_id: string | null;
        };
        TokenPair: {
            access_token: string;
            expires_in: number;
            /** Format: date-time */
            refresh_expires_at: string;
            refresh_token: string;
            /** @constant */
            token_type: "Bearer";
            user: components["schemas"]["User"];
        };
        User: {
            /** Format: date-time */
            created_at: string;
            disabled: boolean;
            email: string;
            /** Format: uuid */
            id: string;
            last_login_at: string | null;
            /** @enum {string} */
            role: "admin" | "user";
            /** Format: date-time */
            updated_at: string;
            username: string;
        };
    };
    responses: {
        /** @description Admins only (AUTH_INSUFFICIENT_PERMISSIONS) */
        Forbidden: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "code": "AUTH_INSUFFICIENT_PERMISSIONS",
                 *       "details": {},
                 *       "error": "Forbidden",
                 *       "message": "Admins only (AUTH_INSUFFICIENT_PERMISSIONS)",
                 *       "request_id": "0f8c3e4a-6b1d-4f2e-9a7c-5d3b2e1f0a9c",
                 *       "timestamp": "2026-11-23T09:00:00.000Z"
                 *     }
                 */
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description Unexpected error (INTERNAL_ERROR); the body never carries a stack or SQL */
        InternalError: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "code": "INTERNAL_ERROR",
                 *       "details": {},
                 *       "error": "Internal server error",
                 *       "message": "Unexpected error (INTERNAL_ERROR); the body never carries a stack or SQL",
                 *       "request_id": "0f8c3e4a-6b1d-4f2e-9a7c-5d3b2e1f0a9c",
                 *       "timestamp": "2026-11-23T09:00:00.000Z"
                 *     }
                 */
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description No such resource, or it belongs to another user (NOT_FOUND) */
        NotFound: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "code": "NOT_FOUND",
                 *       "details": {},
                 *       "error": "Not found",
                 *       "message": "No such resource, or it belongs to another user (NOT_FOUND)",
                 *       "request_id": "0f8c3e4a-6b1d-4f2e-9a7c-5d3b2e1f0a9c",
                 *       "timestamp": "2026-11-23T09:00:00.000Z"
                 *     }
                 */
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description Body over the configured limit (PAYLOAD_TOO_LARGE) */
        PayloadTooLarge: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "code": "PAYLOAD_TOO_LARGE",
                 *       "details": {},
                 *       "error": "Payload too large",
                 *       "message": "Body over the configured limit (PAYLOAD_TOO_LARGE)",
                 *       "request_id": "0f8c3e4a-6b1d-4f2e-9a7c-5d3b2e1f0a9c",
                 *       "timestamp": "2026-11-23T09:00:00.000Z"
                 *     }
                 */
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description Rate limit exceeded (RATE_LIMIT_EXCEEDED); details.retry_after and Retry-After say when to retry */
        RateLimited: {
            headers: {
                /** @description Seconds until the limit resets */
                "Retry-After"?: number;
                /** @description Requests allowed in the window */
                "X-RateLimit-Limit"?: number;
                /** @description Requests left in the window */
                "X-RateLimit-Remaining"?: number;
                /** @description When the window ends, in Unix epoch seconds */
                "X-RateLimit-Reset"?: number;
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "code": "RATE_LIMIT_EXCEEDED",
                 *       "details": {},
                 *       "error": "Rate limit exceeded",
                 *       "message": "Rate limit exceeded (RATE_LIMIT_EXCEEDED); details.retry_after and Retry-After say when to retry",
                 *       "request_id": "0f8c3e4a-6b1d-4f2e-9a7c-5d3b2e1f0a9c",
                 *       "timestamp": "2026-11-23T09:00:00.000Z"
                 *     }
                 */
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description Missing, invalid or expired access token (AUTH_TOKEN_MISSING, AUTH_TOKEN_INVALID, AUTH_TOKEN_EXPIRED) */
        Unauthorized: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "code": "AUTH_TOKEN_MISSING",
                 *       "details": {},
                 *       "error": "Unauthorized",
                 *       "message": "Missing, invalid or expired access token (AUTH_TOKEN_MISSING, AUTH_TOKEN_INVALID, AUTH_TOKEN_EXPIRED)",
                 *       "request_id": "0f8c3e4a-6b1d-4f2e-9a7c-5d3b2e1f0a9c",
                 *       "timestamp": "2026-11-23T09:00:00.000Z"
                 *     }
                 */
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description Body not JSON (UNSUPPORTED_MEDIA_TYPE), or in a Content-Encoding other than gzip, deflate or br (UNSUPPORTED_CONTENT_ENCODING) */
        UnsupportedMediaType: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "code": "UNSUPPORTED_MEDIA_TYPE",
                 *       "details": {},
                 *       "error": "Unsupported media type",
                 *       "message": "Body not JSON (UNSUPPORTED_MEDIA_TYPE), or in a Content-Encoding other than gzip, deflate or br (UNSUPPORTED_CONTENT_ENCODING)",
                 *       "request_id": "0f8c3e4a-6b1d-4f2e-9a7c-5d3b2e1f0a9c",
                 *       "timestamp": "2026-11-23T09:00:00.000Z"
                 *     }
                 */
                "application/json": components["schemas"]["Error"];
            };
        };
        /** @description Validation failed (VALIDATION_FAILED; a NUL character in any string is refused so), malformed JSON (INVALID_JSON), or a body that is not the Content-Encoding it claims (INVALID_CONTENT_ENCODING) */
        ValidationFailed: {
            headers: {
                [name: string]: unknown;
            };
            content: {
                /**
                 * @example {
                 *       "code": "VALIDATION_FAILED",
                 *       "details": {},
                 *       "error": "Validation failed",
                 *       "message": "Validation failed (VALIDATION_FAILED; a NUL character in any string is refused so), malformed JSON (INVALID_JSON), or a body that is not the Content-Encoding it claims (INVALID_CONTENT_ENCODING)",
                 *       "request_id": "0f8c3e4a-6b1d-4f2e-9a7c-5d3b2e1f0a9c",
                 *       "timestamp": "2026-11-23T09:00:00.000Z"
                 *     }
                 */
                "application/json": components["schemas"]["Error"];
            };
        };
    };
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export interface operations {
    connectStreamspaceAgent: {
        parameters: {
            query: {
                /**
                 * @description The agent id the key was issued for (letters, digits, . _ : -)
                 * @example docker-host-01
                 */
                agent_id: string;
                /**
                 * @description docker, kubernetes, ...
                 * @example docker
                 */
                platform: string;
                /**
                 * @description Where the agent runs, for placement
                 * @example us-east-1
                 */
                region?: string;
            };
            header: {
                /** @description Must be `websocket` */
                Upgrade: "websocket";
            };
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Switching Protocols: the WebSocket is open. Close codes: 1001 the control plane is shutting down; 1008 the first message was not register, or agent_id does not match the key; 1011 registration failed (reconnect); 4401 the key was revoked or rotated; 4408 silent for 3 heartbeat intervals, or no longer speaking for the agent (reconnect and register); 4409 replaced by a newer connection. */
            101: {
                headers: {
                    /** @description Always `Upgrade` */
                    Connection?: "Upgrade";
                    /** @description RFC 6455 handshake answer */
                    "Sec-WebSocket-Accept"?: string;
                    /** @description Always `websocket` */
                    Upgrade?: "websocket";
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description agent_id or platform missing or malformed (INVALID_PARAMETER) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No agent key (AUTH_TOKEN_MISSING), or not the current key of that agent_id (AUTH_TOKEN_INVALID) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many upgrades from this IP (RATE_LIMIT_EXCEEDED) */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
        };
    };
    getApiAdminAgents: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "agents": [
                     *         {
                     *           "base_url": "https://10.0.0.7:8443",
                     *           "created_at": "2026-11-20T08:00:00.000Z",
                     *           "id": "3b6f1d2e-7a4c-4e8b-9f0a-1c2d3e4f5a6b",
                     *           "instance_id": null,
                     *           "kind": "game",
                     *           "name": "agent-7",
                     *           "needs_wipe": false
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": {
                        agents: components["schemas"]["PoolAgent"][];
                    };
                };
            };
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            500: components["responses"]["InternalError"];
        };
    };
    postApiAdminAgents: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/json": {
                    /** Format: uri */
                    base_url: string;
                    /**
                     * @default any
                     * @enum {string}
                     */
                    kind?: "game" | "dev" | "any";
                    name: string;
                    token: string;
                };
            };
        };
        responses: {
            /** @description HTTP 201 */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "agent": {
                     *         "base_url": "https://10.0.0.7:8443",
                     *         "created_at": "2026-11-20T08:00:00.000Z",
                     *         "id": "3b6f1d2e-7a4c-4e8b-9f0a-1c2d3e4f5a6b",
                     *         "instance_id": null,
                     *         "kind": "game",
                     *         "name": "agent-7",
                     *         "needs_wipe": false
                     *       }
                     *     }
                     */
                    "application/json": {
                        agent: components["schemas"]["PoolAgent"];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            /** @description An agent with this URL is already registered (AGENT_EXISTS) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
            /** @description The agent answered something outside the contract (AGENT_BAD_RESPONSE) */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent is up but not semantically ready (AGENT_NOT_READY) */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent cannot be reached (AGENT_UNREACHABLE) or did not answer in time (AGENT_TIMEOUT) */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteApiAdminAgentsId: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @example 3b6f1d2e-7a4c-4e8b-9f0a-1c2d3e4f5a6b */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Done; no body */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            /** @description An instance uses this agent; delete it first (AGENT_IN_USE) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
        };
    };
    postApiAdminAgentsIdReadyForReuse: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "agent": {
                     *         "base_url": "https://10.0.0.7:8443",
                     *         "created_at": "2026-11-20T08:00:00.000Z",
                     *         "id": "3b6f1d2e-7a4c-4e8b-9f0a-1c2d3e4f5a6b",
                     *         "instance_id": null,
                     *         "kind": "game",
                     *         "name": "agent-7",
                     *         "needs_wipe": false
                     *       }
                     *     }
                     */
                    "application/json": {
                        agent: components["schemas"]["PoolAgent"];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            /** @description An instance uses this agent (AGENT_IN_USE) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description The agent answered something outside the contract (AGENT_BAD_RESPONSE) */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent is up but not semantically ready (AGENT_NOT_READY) */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent cannot be reached (AGENT_UNREACHABLE) or did not answer in time (AGENT_TIMEOUT) */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getApiAdminAudit: {
        parameters: {
            query?: {
                /** @description e.g. auth.login, auth.login_failed, auth.refresh_reused, admin.user_updated */
                action?: string;
                actor_user_id?: string;
                /** @description Items per page; values above 100 are clamped to 100 */
                limit?: number;
                /** @description Page number, from 1 */
                page?: number;
                /** @description inclusive */
                since?: string;
                target_user_id?: string;
                /** @description exclusive */
                until?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "entries": [
                     *         {
                     *           "action": "auth.login",
                     *           "actor_user_id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21",
                     *           "at": "2026-11-23T09:00:00.000Z",
                     *           "details": {},
                     *           "id": 1042,
                     *           "ip": "203.0.113.7",
                     *           "request_id": "0f8c3e4a-6b1d-4f2e-9a7c-5d3b2e1f0a9c",
                     *           "target_user_id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21"
                     *         }
                     *       ],
                     *       "pagination": {
                     *         "limit": 20,
                     *         "page": 1,
                     *         "total": 1,
                     *         "total_pages": 1
                     *       }
                     *     }
                     */
                    "application/json": {
                        entries: components["schemas"]["AuditEntry"][];
                        pagination: components["schemas"]["Pagination"];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            500: components["responses"]["InternalError"];
        };
    };
    getApiAdminBillingAccounts: {
        parameters: {
            query?: {
                /** @description Items per page; values above 100 are clamped to 100 */
                limit?: number;
                /** @description Page number, from 1 */
                page?: number;
                /** @description part of a username or email */
                q?: string;
                status?: "none" | "trialing" | "active" | "past_due" | "canceled" | "incomplete";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "accounts": [
                     *         {
                     *           "cancel_at_period_end": false,
                     *           "current_period_end": "2026-12-20T08:00:00.000Z",
                     *           "email": "alice@mail.test",
                     *           "exempt": false,
                     *           "last_synced_at": "2026-11-23T09:00:00.000Z",
                     *           "pending_plan": null,
                     *           "plan": "pro",
                     *           "status": "active",
                     *           "stripe_customer_id": "cus_R2x9QeXample",
                     *           "subscription_id": "sub_1QeXampleAbc",
                     *           "user_id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21",
                     *           "username": "alice"
                     *         }
                     *       ],
                     *       "pagination": {
                     *         "limit": 20,
                     *         "page": 1,
                     *         "total": 1,
                     *         "total_pages": 1
                     *       }
                     *     }
                     */
                    "application/json": {
                        accounts: components["schemas"]["BillingAccount"][];
                        pagination: components["schemas"]["Pagination"];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            500: components["responses"]["InternalError"];
        };
    };
    getApiAdminBillingAccountsUserId: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                user_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "account": {
                     *         "cancel_at_period_end": false,
                     *         "current_period_end": "2026-12-20T08:00:00.000Z",
                     *         "email": "alice@mail.test",
                     *         "exempt": false,
                     *         "last_synced_at": "2026-11-23T09:00:00.000Z",
                     *         "pending_plan": null,
                     *         "plan": "pro",
                     *         "status": "active",
                     *         "stripe_customer_id": "cus_R2x9QeXample",
                     *         "subscription_id": "sub_1QeXampleAbc",
                     *         "user_id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21",
                     *         "username": "alice"
                     *       },
                     *       "events": [
                     *         {
                     *           "detail": null,
                     *           "id": "evt_1QeXampleAbc",
                     *           "outcome": "applied",
                     *           "received_at": "2026-11-20T08:00:02.000Z",
                     *           "stripe_created_at": "2026-11-20T08:00:01.000Z",
                     *           "type": "customer.subscription.updated",
                     *           "user_id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21"
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": {
                        account: components["schemas"]["BillingAccount"];
                        events: components["schemas"]["StripeEvent"][];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            500: components["responses"]["InternalError"];
        };
    };
    patchApiAdminBillingAccountsUserId: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                user_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "exempt": true
                 *     }
                 */
                "application/json": {
                    exempt: boolean;
                };
            };
        };
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "account": {
                     *         "cancel_at_period_end": false,
                     *         "current_period_end": "2026-12-20T08:00:00.000Z",
                     *         "email": "alice@mail.test",
                     *         "exempt": true,
                     *         "last_synced_at": "2026-11-23T09:00:00.000Z",
                     *         "pending_plan": null,
                     *         "plan": "pro",
                     *         "status": "active",
                     *         "stripe_customer_id": "cus_R2x9QeXample",
                     *         "subscription_id": "sub_1QeXampleAbc",
                     *         "user_id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21",
                     *         "username": "alice"
                     *       }
                     *     }
                     */
                    "application/json": {
                        account: components["schemas"]["BillingAccount"];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
        };
    };
    postApiAdminBillingAccountsUserIdSync: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                user_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "account": {
                     *         "cancel_at_period_end": false,
                     *         "current_period_end": "2026-12-20T08:00:00.000Z",
                     *         "email": "alice@mail.test",
                     *         "exempt": false,
                     *         "last_synced_at": "2026-11-23T09:00:00.000Z",
                     *         "pending_plan": null,
                     *         "plan": "pro",
                     *         "status": "active",
                     *         "stripe_customer_id": "cus_R2x9QeXample",
                     *         "subscription_id": "sub_1QeXampleAbc",
                     *         "user_id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21",
                     *         "username": "alice"
                     *       }
                     *     }
                     */
                    "application/json": {
                        account: components["schemas"]["BillingAccount"];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            /** @description The user has no subscription (NO_SUBSCRIPTION) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description Stripe is not configured (BILLING_NOT_CONFIGURED) */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getApiAdminBillingEvents: {
        parameters: {
            query?: {
                /** @description Items per page; values above 100 are clamped to 100 */
                limit?: number;
                outcome?: string;
                /** @description Page number, from 1 */
                page?: number;
                type?: string;
                user_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "events": [
                     *         {
                     *           "detail": null,
                     *           "id": "evt_1QeXampleAbc",
                     *           "outcome": "applied",
                     *           "received_at": "2026-11-20T08:00:02.000Z",
                     *           "stripe_created_at": "2026-11-20T08:00:01.000Z",
                     *           "type": "customer.subscription.updated",
                     *           "user_id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21"
                     *         }
                     *       ],
                     *       "pagination": {
                     *         "limit": 20,
                     *         "page": 1,
                     *         "total": 1,
                     *         "total_pages": 1
                     *       }
                     *     }
                     */
                    "application/json": {
                        events: components["schemas"]["StripeEvent"][];
                        pagination: components["schemas"]["Pagination"];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            500: components["responses"]["InternalError"];
        };
    };
    postApiAdminBillingReconcile: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "checked": 12,
                     *       "replayed": 1
                     *     }
                     */
                    "application/json": {
                        checked: number;
                        replayed: number;
                    };
                };
            };
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            500: components["responses"]["InternalError"];
        };
    };
    getApiAdminInstances: {
        parameters: {
            query?: {
                lifecycle?: "provisioning" | "active" | "failed" | "suspended" | "restoring_backup" | "deleting";
                /** @description Items per page; values above 100 are clamped to 100 */
                limit?: number;
                /** @description Page number, from 1 */
                page?: number;
                plugin?: string;
                user_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "instances": [
                     *         {
                     *           "created_at": "2026-11-20T08:00:00.000Z",
                     *           "id": "0b9f3c1e-5d7a-4d6e-9f52-2a3f7c1b8e40",
                     *           "kind": "game",
                     *           "lifecycle_reason": null,
                     *           "name": "Friday survival",
                     *           "owner_id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21",
                     *           "plugin": "game",
                     *           "state": {
                     *             "checked_at": "2026-11-23T09:15:02.000Z",
                     *             "details": {},
                     *             "error": null,
                     *             "last_seen_at": "2026-11-23T09:15:02.000Z",
                     *             "lifecycle": "active",
                     *             "reachable": true,
                     *             "ready": true,
                     *             "stale": false,
                     *             "status": "running"
                     *           },
                     *           "updated_at": "2026-11-23T09:00:00.000Z"
                     *         }
                     *       ],
                     *       "pagination": {
                     *         "limit": 20,
                     *         "page": 1,
                     *         "total": 1,
                     *         "total_pages": 1
                     *       }
                     *     }
                     */
                    "application/json": {
                        instances: components["schemas"]["AdminInstance"][];
                        pagination: components["schemas"]["Pagination"];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            500: components["responses"]["InternalError"];
        };
    };
    getApiAdminUsers: {
        parameters: {
            query?: {
                /** @description Items per page; values above 100 are clamped to 100 */
                limit?: number;
                /** @description Page number, from 1 */
                page?: number;
                role?: "admin" | "user";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "pagination": {
                     *         "limit": 20,
                     *         "page": 1,
                     *         "total": 1,
                     *         "total_pages": 1
                     *       },
                     *       "users": [
                     *         {
                     *           "created_at": "2026-11-20T08:00:00.000Z",
                     *           "disabled": false,
                     *           "email": "alice@mail.test",
                     *           "id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21",
                     *           "last_login_at": "2026-11-23T09:00:00.000Z",
                     *           "role": "user",
                     *           "updated_at": "2026-11-22T17:30:00.000Z",
                     *           "username": "alice"
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": {
                        pagination: components["schemas"]["Pagination"];
                        users: components["schemas"]["User"][];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            500: components["responses"]["InternalError"];
        };
    };
    postApiAdminUsers: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "email": "alice@mail.test",
                 *       "password": "correct horse battery",
                 *       "role": "user",
                 *       "username": "alice"
                 *     }
                 */
                "application/json": {
                    /** Format: email */
                    email: string;
                    password: string;
                    /**
                     * @default user
                     * @enum {string}
                     */
                    role?: "admin" | "user";
                    username: string;
                };
            };
        };
        responses: {
            /** @description HTTP 201 */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "user": {
                     *         "created_at": "2026-11-20T08:00:00.000Z",
                     *         "disabled": false,
                     *         "email": "alice@mail.test",
                     *         "id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21",
                     *         "last_login_at": null,
                     *         "role": "user",
                     *         "updated_at": "2026-11-22T17:30:00.000Z",
                     *         "username": "alice"
                     *       }
                     *     }
                     */
                    "application/json": {
                        user: components["schemas"]["User"];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            /** @description That username or email is already taken (USER_EXISTS) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
        };
    };
    getApiAdminUsersId: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "user": {
                     *         "created_at": "2026-11-20T08:00:00.000Z",
                     *         "disabled": false,
                     *         "email": "alice@mail.test",
                     *         "id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21",
                     *         "last_login_at": "2026-11-23T09:00:00.000Z",
                     *         "role": "user",
                     *         "updated_at": "2026-11-22T17:30:00.000Z",
                     *         "username": "alice"
                     *       }
                     *     }
                     */
                    "application/json": {
                        user: components["schemas"]["User"];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            500: components["responses"]["InternalError"];
        };
    };
    deleteApiAdminUsersId: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @example 6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21 */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Done; no body */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            /** @description LAST_ADMIN, USER_HAS_INSTANCES (delete their instances first) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
        };
    };
    patchApiAdminUsersId: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "disabled": true
                 *     }
                 */
                "application/json": {
                    disabled?: boolean;
                    /** Format: email */
                    email?: string;
                    /** @enum {string} */
                    role?: "admin" | "user";
                };
            };
        };
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "user": {
                     *         "created_at": "2026-11-20T08:00:00.000Z",
                     *         "disabled": true,
                     *         "email": "alice@mail.test",
                     *         "id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21",
                     *         "last_login_at": "2026-11-23T09:00:00.000Z",
                     *         "role": "user",
                     *         "updated_at": "2026-11-22T17:30:00.000Z",
                     *         "username": "alice"
                     *       }
                     *     }
                     */
                    "application/json": {
                        user: components["schemas"]["User"];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            404: components["responses"]["NotFound"];
            /** @description That email is already taken (USER_EXISTS), or the change would leave no active admin (LAST_ADMIN) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
        };
    };
    postApiAuthLogin: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "login": "alice",
                 *       "password": "correct horse battery"
                 *     }
                 */
                "application/json": {
                    login: string;
                    password: string;
                };
            };
        };
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI2YTFkMmE4ZSJ9.c2lnbmF0dXJl",
                     *       "expires_in": 900,
                     *       "refresh_expires_at": "2026-12-23T09:00:00.000Z",
                     *       "refresh_token": "rt_9c4f0e2b7a1d4e6f8b3c5a7d9e1f2a4b",
                     *       "token_type": "Bearer",
                     *       "user": {
                     *         "created_at": "2026-11-20T08:00:00.000Z",
                     *         "disabled": false,
                     *         "email": "alice@mail.test",
                     *         "id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21",
                     *         "last_login_at": "2026-11-23T09:00:00.000Z",
                     *         "role": "user",
                     *         "updated_at": "2026-11-22T17:30:00.000Z",
                     *         "username": "alice"
                     *       }
                     *     }
                     */
                    "application/json": components["schemas"]["TokenPair"];
                };
            };
            400: components["responses"]["ValidationFailed"];
            /** @description The login or password is wrong (AUTH_INVALID_CREDENTIALS) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description This account is disabled (AUTH_USER_DISABLED) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            429: components["responses"]["RateLimited"];
            500: components["responses"]["InternalError"];
        };
    };
    postApiAuthLogout: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "refresh_token": "rt_9c4f0e2b7a1d4e6f8b3c5a7d9e1f2a4b"
                 *     }
                 */
                "application/json": {
                    refresh_token?: string;
                };
            };
        };
        responses: {
            /** @description Done; no body */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
        };
    };
    getApiAuthMe: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "user": {
                     *         "created_at": "2026-11-20T08:00:00.000Z",
                     *         "disabled": false,
                     *         "email": "alice@mail.test",
                     *         "id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21",
                     *         "last_login_at": "2026-11-23T09:00:00.000Z",
                     *         "role": "user",
                     *         "updated_at": "2026-11-22T17:30:00.000Z",
                     *         "username": "alice"
                     *       }
                     *     }
                     */
                    "application/json": {
                        user: components["schemas"]["User"];
                    };
                };
            };
            401: components["responses"]["Unauthorized"];
            500: components["responses"]["InternalError"];
        };
    };
    postApiAuthPasswordReset: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "email": "alice@mail.test"
                 *     }
                 */
                "application/json": {
                    /** Format: email */
                    email: string;
                };
            };
        };
        responses: {
            /** @description HTTP 202 */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "message": "If that address has an account, a reset mail is on its way",
                     *       "status": "accepted"
                     *     }
                     */
                    "application/json": {
                        message: string;
                        /** @constant */
                        status: "accepted";
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            429: components["responses"]["RateLimited"];
            500: components["responses"]["InternalError"];
        };
    };
    postApiAuthPasswordResetConfirm: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "password": "a new long passphrase",
                 *       "token": "pr_5e7a9c1b3d5f7a9c1e3b5d7f9a1c3e5b"
                 *     }
                 */
                "application/json": {
                    password: string;
                    token: string;
                };
            };
        };
        responses: {
            /** @description Done; no body */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The reset token is invalid, used or expired (RESET_TOKEN_INVALID), or the body is invalid (VALIDATION_FAILED) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            429: components["responses"]["RateLimited"];
            500: components["responses"]["InternalError"];
        };
    };
    postApiAuthRefresh: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "refresh_token": "rt_9c4f0e2b7a1d4e6f8b3c5a7d9e1f2a4b"
                 *     }
                 */
                "application/json": {
                    refresh_token: string;
                };
            };
        };
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "access_token": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI2YTFkMmE4ZSJ9.c2lnbmF0dXJl",
                     *       "expires_in": 900,
                     *       "refresh_expires_at": "2026-12-23T09:00:00.000Z",
                     *       "refresh_token": "rt_9c4f0e2b7a1d4e6f8b3c5a7d9e1f2a4b",
                     *       "token_type": "Bearer",
                     *       "user": {
                     *         "created_at": "2026-11-20T08:00:00.000Z",
                     *         "disabled": false,
                     *         "email": "alice@mail.test",
                     *         "id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21",
                     *         "last_login_at": "2026-11-23T09:00:00.000Z",
                     *         "role": "user",
                     *         "updated_at": "2026-11-22T17:30:00.000Z",
                     *         "username": "alice"
                     *       }
                     *     }
                     */
                    "application/json": components["schemas"]["TokenPair"];
                };
            };
            400: components["responses"]["ValidationFailed"];
            /** @description The refresh token is invalid or expired (AUTH_REFRESH_INVALID), or was used twice, which ends its whole session family (AUTH_REFRESH_REUSED) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description This account is disabled (AUTH_USER_DISABLED) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            429: components["responses"]["RateLimited"];
            500: components["responses"]["InternalError"];
        };
    };
    postApiAuthRegister: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "email": "alice@mail.test",
                 *       "password": "correct horse battery",
                 *       "username": "alice"
                 *     }
                 */
                "application/json": {
                    /** Format: email */
                    email: string;
                    password: string;
                    username: string;
                };
            };
        };
        responses: {
            /** @description HTTP 201 */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "user": {
                     *         "created_at": "2026-11-20T08:00:00.000Z",
                     *         "disabled": false,
                     *         "email": "alice@mail.test",
                     *         "id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21",
                     *         "last_login_at": null,
                     *         "role": "user",
                     *         "updated_at": "2026-11-22T17:30:00.000Z",
                     *         "username": "alice"
                     *       }
                     *     }
                     */
                    "application/json": {
                        user: components["schemas"]["User"];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            /** @description Self-registration is turned off (REGISTRATION_DISABLED) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description That username or email is already taken (USER_EXISTS) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            429: components["responses"]["RateLimited"];
            500: components["responses"]["InternalError"];
        };
    };
    getApiBilling: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "cancel_at_period_end": false,
                     *       "current_period_end": "2026-12-23T10:00:00.000Z",
                     *       "exempt": false,
                     *       "limits": {
                     *         "backups_per_server": 10,
                     *         "dev_containers": 4,
                     *         "game_servers": 5
                     *       },
                     *       "pending_plan": null,
                     *       "plan": "starter",
                     *       "status": "active",
                     *       "usage": {
                     *         "dev_containers": 1,
                     *         "game_servers": 2
                     *       }
                     *     }
                     */
                    "application/json": {
                        cancel_at_period_end: boolean;
                        current_period_end: string | null;
                        exempt: boolean;
                        /** @description null: no limits (admins and exempt accounts) */
                        limits: components["schemas"]["PlanLimits"] | null;
                        pending_plan: string | null;
                        plan: string;
                        /** @enum {string} */
                        status: "none" | "trialing" | "active" | "past_due" | "canceled" | "incomplete";
                        usage: {
                            dev_containers: number;
                            game_servers: number;
                        };
                    };
                };
            };
            401: components["responses"]["Unauthorized"];
            500: components["responses"]["InternalError"];
        };
    };
    postApiBillingCheckout: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "plan": "starter"
                 *     }
                 */
                "application/json": {
                    plan: string;
                };
            };
        };
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "session_id": "cs_test_a1...",
                     *       "url": "https://checkout.stripe.com/c/pay/cs_test_a1..."
                     *     }
                     */
                    "application/json": {
                        session_id: string;
                        url: string;
                    };
                };
            };
            /** @description Unknown plan (PLAN_UNKNOWN) or the free plan (PLAN_NOT_PURCHASABLE) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description A live subscription exists (SUBSCRIPTION_EXISTS): use upgrade, downgrade or the portal */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
            /** @description Stripe is not configured on this panel (BILLING_NOT_CONFIGURED) */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    postApiBillingDowngrade: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "plan": "starter"
                 *     }
                 */
                "application/json": {
                    plan: string;
                };
            };
        };
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "cancel_at_period_end": false,
                     *       "current_period_end": "2026-12-23T10:00:00.000Z",
                     *       "exempt": false,
                     *       "limits": {
                     *         "backups_per_server": 10,
                     *         "dev_containers": 4,
                     *         "game_servers": 5
                     *       },
                     *       "pending_plan": "starter",
                     *       "plan": "pro",
                     *       "status": "active",
                     *       "usage": {
                     *         "dev_containers": 1,
                     *         "game_servers": 2
                     *       }
                     *     }
                     */
                    "application/json": {
                        cancel_at_period_end: boolean;
                        current_period_end: string | null;
                        exempt: boolean;
                        /** @description null: no limits (admins and exempt accounts) */
                        limits: components["schemas"]["PlanLimits"] | null;
                        pending_plan: string | null;
                        plan: string;
                        /** @enum {string} */
                        status: "none" | "trialing" | "active" | "past_due" | "canceled" | "incomplete";
                        usage: {
                            dev_containers: number;
                            game_servers: number;
                        };
                    };
                };
            };
            /** @description Unknown plan (PLAN_UNKNOWN), the free plan (PLAN_NOT_PURCHASABLE), or a plan that is not cheaper (NOT_A_DOWNGRADE) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description No live subscription (NO_SUBSCRIPTION), or already on that plan (PLAN_UNCHANGED) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
            /** @description Stripe is not configured on this panel (BILLING_NOT_CONFIGURED) */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getApiBillingPlans: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "plans": [
                     *         {
                     *           "amount": 0,
                     *           "currency": "usd",
                     *           "id": "free",
                     *           "limits": {
                     *             "backups_per_server": 3,
                     *             "dev_containers": 2,
                     *             "game_servers": 2
                     *           },
                     *           "name": "Free",
                     *           "price_id": null
                     *         },
                     *         {
                     *           "amount": 900,
                     *           "currency": "usd",
                     *           "id": "starter",
                     *           "limits": {
                     *             "backups_per_server": 10,
                     *             "dev_containers": 4,
                     *             "game_servers": 5
                     *           },
                     *           "name": "Starter",
                     *           "price_id": "price_starter"
                     *         },
                     *         {
                     *           "amount": 2900,
                     *           "currency": "usd",
                     *           "id": "pro",
                     *           "limits": {
                     *             "backups_per_server": 30,
                     *             "dev_containers": 10,
                     *             "game_servers": 20
                     *           },
                     *           "name": "Pro",
                     *           "price_id": "price_pro"
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": {
                        plans: {
                            amount: number;
                            currency: string;
                            id: string;
                            limits: components["schemas"]["PlanLimits"];
                            name: string;
                            price_id: string | null;
                        }[];
                    };
                };
            };
            500: components["responses"]["InternalError"];
        };
    };
    postApiBillingPortal: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "url": "https://billing.stripe.com/p/session/test_YWN..."
                     *     }
                     */
                    "application/json": {
                        url: string;
                    };
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description No Stripe customer yet (NO_BILLING_ACCOUNT) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description Stripe is not configured on this panel (BILLING_NOT_CONFIGURED) */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    postApiBillingUpgrade: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "plan": "pro"
                 *     }
                 */
                "application/json": {
                    plan: string;
                };
            };
        };
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "cancel_at_period_end": false,
                     *       "current_period_end": "2026-12-23T10:00:00.000Z",
                     *       "exempt": false,
                     *       "limits": {
                     *         "backups_per_server": 10,
                     *         "dev_containers": 4,
                     *         "game_servers": 5
                     *       },
                     *       "pending_plan": null,
                     *       "plan": "starter",
                     *       "status": "active",
                     *       "usage": {
                     *         "dev_containers": 1,
                     *         "game_servers": 2
                     *       }
                     *     }
                     */
                    "application/json": {
                        cancel_at_period_end: boolean;
                        current_period_end: string | null;
                        exempt: boolean;
                        /** @description null: no limits (admins and exempt accounts) */
                        limits: components["schemas"]["PlanLimits"] | null;
                        pending_plan: string | null;
                        plan: string;
                        /** @enum {string} */
                        status: "none" | "trialing" | "active" | "past_due" | "canceled" | "incomplete";
                        usage: {
                            dev_containers: number;
                            game_servers: number;
                        };
                    };
                };
            };
            /** @description Unknown plan (PLAN_UNKNOWN), the free plan (PLAN_NOT_PURCHASABLE), or a plan that is not dearer (NOT_AN_UPGRADE) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description No live subscription (NO_SUBSCRIPTION), or already on that plan (PLAN_UNCHANGED) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
            /** @description Stripe is not configured on this panel (BILLING_NOT_CONFIGURED) */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    postApiBillingWebhook: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/octet-stream": string;
            };
        };
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "duplicate": false,
                     *       "received": true
                     *     }
                     */
                    "application/json": {
                        duplicate: boolean;
                        received: boolean;
                    };
                };
            };
            /** @description Bad signature (WEBHOOK_SIGNATURE_INVALID); nothing is stored */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description Stripe is not configured on this panel (BILLING_NOT_CONFIGURED) */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getApiDev: {
        parameters: {
            query?: {
                lifecycle?: "provisioning" | "active" | "failed" | "suspended" | "restoring_backup" | "deleting";
                /** @description Items per page; values above 100 are clamped to 100 */
                limit?: number;
                /** @description Page number, from 1 */
                page?: number;
                /** @description admins: only this user's containers */
                user_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "containers": [
                     *         {
                     *           "codeserver": {
                     *             "state": "running"
                     *           },
                     *           "created_at": "2026-11-23T09:00:00.000Z",
                     *           "id": "5d0c8a3e-1f2b-4c6d-8e9f-0a1b2c3d4e5f",
                     *           "lifecycle_reason": null,
                     *           "name": "api-work",
                     *           "owner_id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21",
                     *           "resources": {
                     *             "cpu_cores": 2,
                     *             "disk_mb": 20480,
                     *             "memory_mb": 4096
                     *           },
                     *           "state": {
                     *             "checked_at": "2026-11-23T09:15:02.000Z",
                     *             "details": {
                     *               "backup": {
                     *                 "in_progress": null
                     *               },
                     *               "codeserver": {
                     *                 "port": 8443,
                     *                 "state": "running"
                     *               },
                     *               "since": "2026-11-23T09:00:40Z",
                     *               "state": "running"
                     *             },
                     *             "error": null,
                     *             "last_seen_at": "2026-11-23T09:15:02.000Z",
                     *             "lifecycle": "active",
                     *             "reachable": true,
                     *             "ready": true,
                     *             "stale": false,
                     *             "status": "running"
                     *           },
                     *           "template": "default",
                     *           "updated_at": "2026-11-23T09:00:41.000Z",
                     *           "vmid": 104
                     *         }
                     *       ],
                     *       "pagination": {
                     *         "limit": 20,
                     *         "page": 1,
                     *         "total": 1,
                     *         "total_pages": 1
                     *       }
                     *     }
                     */
                    "application/json": {
                        containers: components["schemas"]["DevContainer"][];
                        pagination: components["schemas"]["Pagination"];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            500: components["responses"]["InternalError"];
        };
    };
    postApiDev: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "api-work",
                 *       "template": "default"
                 *     }
                 */
                "application/json": {
                    name: string;
                    template?: string;
                };
            };
        };
        responses: {
            /** @description HTTP 202 */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "container": {
                     *         "codeserver": {
                     *           "state": "running"
                     *         },
                     *         "created_at": "2026-11-23T09:00:00.000Z",
                     *         "id": "5d0c8a3e-1f2b-4c6d-8e9f-0a1b2c3d4e5f",
                     *         "lifecycle_reason": null,
                     *         "name": "api-work",
                     *         "owner_id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21",
                     *         "resources": {
                     *           "cpu_cores": 2,
                     *           "disk_mb": 20480,
                     *           "memory_mb": 4096
                     *         },
                     *         "state": {
                     *           "checked_at": "2026-11-23T09:15:02.000Z",
                     *           "details": {
                     *             "backup": {
                     *               "in_progress": null
                     *             },
                     *             "codeserver": {
                     *               "port": 8443,
                     *               "state": "running"
                     *             },
                     *             "since": "2026-11-23T09:00:40Z",
                     *             "state": "running"
                     *           },
                     *           "error": null,
                     *           "last_seen_at": "2026-11-23T09:15:02.000Z",
                     *           "lifecycle": "provisioning",
                     *           "reachable": true,
                     *           "ready": true,
                     *           "stale": false,
                     *           "status": "running"
                     *         },
                     *         "template": "default",
                     *         "updated_at": "2026-11-23T09:00:41.000Z",
                     *         "vmid": 104
                     *       }
                     *     }
                     */
                    "application/json": {
                        container: components["schemas"]["DevContainer"];
                    };
                };
            };
            /** @description Invalid name, or an unknown template (TEMPLATE_UNKNOWN) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description The plan allows no more dev containers (PLAN_LIMIT_REACHED), or a payment is overdue (BILLING_PAST_DUE) */
            402: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
            /** @description Every vmid of the configured range is taken (VMID_RANGE_EXHAUSTED) */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getApiDevId: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Dev container id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "container": {
                     *         "codeserver": {
                     *           "state": "running"
                     *         },
                     *         "created_at": "2026-11-23T09:00:00.000Z",
                     *         "id": "5d0c8a3e-1f2b-4c6d-8e9f-0a1b2c3d4e5f",
                     *         "lifecycle_reason": null,
                     *         "name": "api-work",
                     *         "owner_id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21",
                     *         "resources": {
                     *           "cpu_cores": 2,
                     *           "disk_mb": 20480,
                     *           "memory_mb": 4096
                     *         },
                     *         "state": {
                     *           "checked_at": "2026-11-23T09:15:02.000Z",
                     *           "details": {
                     *             "backup": {
                     *               "in_progress": null
                     *             },
                     *             "codeserver": {
                     *               "port": 8443,
                     *               "state": "running"
                     *             },
                     *             "since": "2026-11-23T09:00:40Z",
                     *             "state": "running"
                     *           },
                     *           "error": null,
                     *           "last_seen_at": "2026-11-23T09:15:02.000Z",
                     *           "lifecycle": "active",
                     *           "reachable": true,
                     *           "ready": true,
                     *           "stale": false,
                     *           "status": "running"
                     *         },
                     *         "template": "default",
                     *         "updated_at": "2026-11-23T09:00:41.000Z",
                     *         "vmid": 104
                     *       }
                     *     }
                     */
                    "application/json": {
                        container: components["schemas"]["DevContainer"];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            500: components["responses"]["InternalError"];
        };
    };
    deleteApiDevId: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Dev container id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 202 */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "container": {
                     *         "codeserver": {
                     *           "state": "running"
                     *         },
                     *         "created_at": "2026-11-23T09:00:00.000Z",
                     *         "id": "5d0c8a3e-1f2b-4c6d-8e9f-0a1b2c3d4e5f",
                     *         "lifecycle_reason": null,
                     *         "name": "api-work",
                     *         "owner_id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21",
                     *         "resources": {
                     *           "cpu_cores": 2,
                     *           "disk_mb": 20480,
                     *           "memory_mb": 4096
                     *         },
                     *         "state": {
                     *           "checked_at": "2026-11-23T09:15:02.000Z",
                     *           "details": {
                     *             "backup": {
                     *               "in_progress": null
                     *             },
                     *             "codeserver": {
                     *               "port": 8443,
                     *               "state": "running"
                     *             },
                     *             "since": "2026-11-23T09:00:40Z",
                     *             "state": "running"
                     *           },
                     *           "error": null,
                     *           "last_seen_at": "2026-11-23T09:15:02.000Z",
                     *           "lifecycle": "deleting",
                     *           "reachable": true,
                     *           "ready": true,
                     *           "stale": false,
                     *           "status": "running"
                     *         },
                     *         "template": "default",
                     *         "updated_at": "2026-11-23T09:00:41.000Z",
                     *         "vmid": 104
                     *       }
                     *     }
                     */
                    "application/json": {
                        container: components["schemas"]["DevContainer"];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            500: components["responses"]["InternalError"];
        };
    };
    postApiDevIdCodeserverRestart: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Dev container id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 202 */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "action": "restart",
                     *       "codeserver": {
                     *         "state": "running"
                     *       },
                     *       "container_id": "5d0c8a3e-1f2b-4c6d-8e9f-0a1b2c3d4e5f"
                     *     }
                     */
                    "application/json": {
                        /** @enum {string} */
                        action: "start" | "stop" | "restart";
                        codeserver: {
                            state: string;
                        };
                        /** Format: uuid */
                        container_id: string;
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description The container is not `active` (INSTANCE_NOT_ACTIVE), or the agent refused (AGENT_ERROR) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or something outside the contract (AGENT_BAD_RESPONSE) */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent cannot be reached (AGENT_UNREACHABLE) or did not answer in time (AGENT_TIMEOUT) */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    postApiDevIdCodeserverStart: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Dev container id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 202 */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "action": "start",
                     *       "codeserver": {
                     *         "state": "running"
                     *       },
                     *       "container_id": "5d0c8a3e-1f2b-4c6d-8e9f-0a1b2c3d4e5f"
                     *     }
                     */
                    "application/json": {
                        /** @enum {string} */
                        action: "start" | "stop" | "restart";
                        codeserver: {
                            state: string;
                        };
                        /** Format: uuid */
                        container_id: string;
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description The container is not `active` (INSTANCE_NOT_ACTIVE), or the agent refused (AGENT_ERROR) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or something outside the contract (AGENT_BAD_RESPONSE) */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent cannot be reached (AGENT_UNREACHABLE) or did not answer in time (AGENT_TIMEOUT) */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    postApiDevIdCodeserverStop: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Dev container id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 202 */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "action": "stop",
                     *       "codeserver": {
                     *         "state": "stopped"
                     *       },
                     *       "container_id": "5d0c8a3e-1f2b-4c6d-8e9f-0a1b2c3d4e5f"
                     *     }
                     */
                    "application/json": {
                        /** @enum {string} */
                        action: "start" | "stop" | "restart";
                        codeserver: {
                            state: string;
                        };
                        /** Format: uuid */
                        container_id: string;
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description The container is not `active` (INSTANCE_NOT_ACTIVE), or the agent refused (AGENT_ERROR) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or something outside the contract (AGENT_BAD_RESPONSE) */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent cannot be reached (AGENT_UNREACHABLE) or did not answer in time (AGENT_TIMEOUT) */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getApiDevIdFiles: {
        parameters: {
            query: {
                /** @description path inside the data directory; "/" is its root */
                path: string;
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "entries": [
                     *         {
                     *           "modified_at": "2026-11-23T10:00:00.000Z",
                     *           "name": "level.dat",
                     *           "size_bytes": 8192,
                     *           "type": "file"
                     *         }
                     *       ],
                     *       "path": "/world"
                     *     }
                     */
                    "application/json": {
                        entries: components["schemas"]["FileEntry"][];
                        path: string;
                    };
                };
            };
            /** @description The path is not valid or leaves the data directory (VALIDATION_FAILED, or AGENT_ERROR with agent code path_outside_root) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description No such dev container, or no such directory (AGENT_ERROR) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The instance is not `active` (INSTANCE_NOT_ACTIVE) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or garbage (AGENT_BAD_RESPONSE) */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent is unreachable (AGENT_UNREACHABLE) or the transfer stalled (AGENT_TIMEOUT) */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteApiDevIdFiles: {
        parameters: {
            query: {
                /**
                 * @description path inside the data directory; "/" is its root
                 * @example /logs/old
                 */
                path: string;
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Done; no body */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The path is not valid or leaves the data directory (VALIDATION_FAILED, or AGENT_ERROR with agent code path_outside_root) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description The instance is not `active` (INSTANCE_NOT_ACTIVE) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or garbage (AGENT_BAD_RESPONSE) */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent is unreachable (AGENT_UNREACHABLE) or the transfer stalled (AGENT_TIMEOUT) */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getApiDevIdFilesContent: {
        parameters: {
            query: {
                /**
                 * @description path inside the data directory; "/" is its root
                 * @example /server.properties
                 */
                path: string;
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The file's bytes, with Content-Disposition: attachment */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": string;
                };
            };
            /** @description The asked byte range, with Content-Range */
            206: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": string;
                };
            };
            /** @description The path is not valid or leaves the data directory (VALIDATION_FAILED, or AGENT_ERROR with agent code path_outside_root) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description The instance is not `active` (INSTANCE_NOT_ACTIVE) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The range starts at or past the end of the file (RANGE_NOT_SATISFIABLE, with `Content-Range: bytes *\/<size>`) */
            416: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or garbage (AGENT_BAD_RESPONSE) */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent is unreachable (AGENT_UNREACHABLE) or the transfer stalled (AGENT_TIMEOUT) */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    putApiDevIdFilesContent: {
        parameters: {
            query: {
                /** @description path inside the data directory; "/" is its root */
                path: string;
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/octet-stream": string;
            };
        };
        responses: {
            /** @description HTTP 201 */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "entry": {
                     *         "modified_at": "2026-11-23T10:00:00.000Z",
                     *         "name": "server.properties",
                     *         "size_bytes": 1180,
                     *         "type": "file"
                     *       }
                     *     }
                     */
                    "application/json": {
                        entry: components["schemas"]["FileEntry"];
                    };
                };
            };
            /** @description The path is not valid or leaves the data directory (VALIDATION_FAILED, or AGENT_ERROR with agent code path_outside_root) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description The instance is not `active` (INSTANCE_NOT_ACTIVE) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Over the upload limit (PAYLOAD_TOO_LARGE) */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or garbage (AGENT_BAD_RESPONSE) */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent is unreachable (AGENT_UNREACHABLE) or the transfer stalled (AGENT_TIMEOUT) */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The disk is full (AGENT_ERROR, agent code disk_full) */
            507: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    postApiDevIdFilesDownloadUrl: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "path": "/world/level.dat"
                 *     }
                 */
                "application/json": {
                    /** @description path inside the data directory; "/" is its root */
                    path: string;
                };
            };
        };
        responses: {
            /** @description HTTP 201 */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "expires_at": "2026-11-23T10:05:00.000Z",
                     *       "url": "https://panel.example.com/api/files/signed?token=eyJ1Ijoi..."
                     *     }
                     */
                    "application/json": {
                        /** Format: date-time */
                        expires_at: string;
                        url: string;
                    };
                };
            };
            /** @description The path is not valid or leaves the data directory (VALIDATION_FAILED, or AGENT_ERROR with agent code path_outside_root) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description The instance is not `active` (INSTANCE_NOT_ACTIVE) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or garbage (AGENT_BAD_RESPONSE) */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent is unreachable (AGENT_UNREACHABLE) or the transfer stalled (AGENT_TIMEOUT) */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    postApiDevIdFilesMkdir: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "path": "/mods"
                 *     }
                 */
                "application/json": {
                    /** @description path inside the data directory; "/" is its root */
                    path: string;
                };
            };
        };
        responses: {
            /** @description HTTP 201 */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "entry": {
                     *         "modified_at": "2026-11-23T10:00:00.000Z",
                     *         "name": "mods",
                     *         "size_bytes": 0,
                     *         "type": "dir"
                     *       }
                     *     }
                     */
                    "application/json": {
                        entry: components["schemas"]["FileEntry"];
                    };
                };
            };
            /** @description The path is not valid or leaves the data directory (VALIDATION_FAILED, or AGENT_ERROR with agent code path_outside_root) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description Something exists at that path (AGENT_ERROR), or the instance is not `active` (INSTANCE_NOT_ACTIVE) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or garbage (AGENT_BAD_RESPONSE) */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent is unreachable (AGENT_UNREACHABLE) or the transfer stalled (AGENT_TIMEOUT) */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    postApiDevIdFilesUploadUrl: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "path": "/world/level.dat"
                 *     }
                 */
                "application/json": {
                    /** @description path inside the data directory; "/" is its root */
                    path: string;
                };
            };
        };
        responses: {
            /** @description HTTP 201 */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "expires_at": "2026-11-23T10:05:00.000Z",
                     *       "url": "https://panel.example.com/api/files/signed?token=eyJ1Ijoi..."
                     *     }
                     */
                    "application/json": {
                        /** Format: date-time */
                        expires_at: string;
                        url: string;
                    };
                };
            };
            /** @description The path is not valid or leaves the data directory (VALIDATION_FAILED, or AGENT_ERROR with agent code path_outside_root) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description The instance is not `active` (INSTANCE_NOT_ACTIVE) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or garbage (AGENT_BAD_RESPONSE) */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent is unreachable (AGENT_UNREACHABLE) or the transfer stalled (AGENT_TIMEOUT) */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    postApiDevIdIdeToken: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Dev container id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 201 */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "expires_at": "2026-11-23T09:16:02.000Z",
                     *       "token": "Jq2...Xw",
                     *       "url": "https://dev-104.ide.example.com/?ide_token=Jq2...Xw"
                     *     }
                     */
                    "application/json": {
                        /** Format: date-time */
                        expires_at: string;
                        token: string;
                        url: string;
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description The container is not `active` (INSTANCE_NOT_ACTIVE) or its IDE is not running (IDE_NOT_RUNNING: start it first) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
        };
    };
    getApiEvents: {
        parameters: {
            query?: {
                last_event_id?: number;
                ticket?: string;
                /** @description comma-separated event types, of: backup.updated, billing.updated, dev.ide_stopped, instance.deleted, instance.state, streamspace.agent_key_changed, streamspace.agent_offline, streamspace.agent_replaced, streamspace.commands_pending, streamspace.session_reconciled, streamspace.session_state, user.sessions_ended */
                types?: string;
                /** @description admins: only this user's events */
                user_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description One Server-Sent Event: `id` and `event` (its type) repeat the fields below; `data` is this object as JSON */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example id: 42
                     *     event: instance.state
                     *     data: {"id":42,"type":"instance.state","user_id":"6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21","data":{"instance_id":"5d0c8a3e-1f2b-4c6d-8e9f-0a1b2c3d4e5f","lifecycle":"active"},"created_at":"2026-11-23T09:00:41.000Z"}
                     */
                    "text/event-stream": string;
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            500: components["responses"]["InternalError"];
        };
    };
    postApiEventsTicket: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 201 */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "expires_at": "2026-11-23T09:01:00.000Z",
                     *       "ticket": "tkt_3f9c2a7e5b1d4c8a",
                     *       "url": "https://panel.example.org/api/events?ticket=tkt_3f9c2a7e5b1d4c8a"
                     *     }
                     */
                    "application/json": {
                        /** Format: date-time */
                        expires_at: string;
                        ticket: string;
                        url: string;
                    };
                };
            };
            401: components["responses"]["Unauthorized"];
            500: components["responses"]["InternalError"];
        };
    };
    getApiFilesSigned: {
        parameters: {
            query: {
                /**
                 * @description the signed token from download-url / upload-url
                 * @example eyJ1IjoiNmExZDJhOGUiLCJwIjoiL3dvcmxkIn0.c2lnbmF0dXJlLWZvci1leGFtcGxl
                 */
                token: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The file or archive, with Content-Disposition: attachment */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": string;
                };
            };
            /** @description The asked byte range, with Content-Range */
            206: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": string;
                };
            };
            400: components["responses"]["ValidationFailed"];
            /** @description The link is invalid, expired or used up (SIGNED_URL_INVALID) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The instance is not `active` (INSTANCE_NOT_ACTIVE) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The range starts at or past the end of the file (RANGE_NOT_SATISFIABLE, with `Content-Range: bytes *\/<size>`) */
            416: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
        };
    };
    putApiFilesSigned: {
        parameters: {
            query: {
                /** @description the signed token from download-url / upload-url */
                token: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/octet-stream": string;
            };
        };
        responses: {
            /** @description HTTP 201 */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "entry": {
                     *         "modified_at": "2026-11-23T10:00:00.000Z",
                     *         "name": "server.properties",
                     *         "size_bytes": 1180,
                     *         "type": "file"
                     *       }
                     *     }
                     */
                    "application/json": {
                        entry: {
                            modified_at: string;
                            name: string;
                            size_bytes: number;
                            /** @enum {string} */
                            type: "file" | "dir";
                        };
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            /** @description The link is invalid, expired or already used (SIGNED_URL_INVALID) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Over the upload limit (PAYLOAD_TOO_LARGE) */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
        };
    };
    getApiGameServers: {
        parameters: {
            query?: {
                /** @description only servers in this lifecycle */
                lifecycle?: "provisioning" | "active" | "failed" | "suspended" | "restoring_backup" | "deleting";
                /** @description Items per page; values above 100 are clamped to 100 */
                limit?: number;
                /** @description Page number, from 1 */
                page?: number;
                /** @description only servers whose agent last reported this status */
                status?: "installing" | "stopped" | "starting" | "running" | "stopping" | "crashed" | "unknown";
                /** @description admins: only this user's servers */
                user_id?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "pagination": {
                     *         "limit": 20,
                     *         "page": 1,
                     *         "total": 1,
                     *         "total_pages": 1
                     *       },
                     *       "servers": [
                     *         {
                     *           "backup_limit": 5,
                     *           "created_at": "2026-11-23T10:00:00.000Z",
                     *           "id": "0b9f3c1e-5d7a-4d6e-9f52-2a3f7c1b8e40",
                     *           "lifecycle_reason": null,
                     *           "name": "Friday survival",
                     *           "owner_id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21",
                     *           "resources": {
                     *             "cpu_cores": 1,
                     *             "disk_mb": 5120,
                     *             "memory_mb": 1024
                     *           },
                     *           "state": {
                     *             "checked_at": "2026-11-23T10:15:02.000Z",
                     *             "details": {
                     *               "backup": {
                     *                 "in_progress": null
                     *               },
                     *               "pid": 4242,
                     *               "since": "2026-11-23T10:01:40Z",
                     *               "state": "running",
                     *               "uptime_s": 802
                     *             },
                     *             "error": null,
                     *             "last_seen_at": "2026-11-23T10:15:02.000Z",
                     *             "lifecycle": "active",
                     *             "reachable": true,
                     *             "ready": true,
                     *             "stale": false,
                     *             "status": "running"
                     *           },
                     *           "template": "sample",
                     *           "updated_at": "2026-11-23T10:01:41.000Z"
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": {
                        pagination: components["schemas"]["Pagination"];
                        servers: components["schemas"]["GameServer"][];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            /** @description A non-admin asked for another user's servers (AUTH_INSUFFICIENT_PERMISSIONS) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
        };
    };
    postApiGameServers: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "name": "Friday survival",
                 *       "template": "sample"
                 *     }
                 */
                "application/json": {
                    name: string;
                    /** @description template id from GET /api/game/templates; default: the configured default */
                    template?: string;
                };
            };
        };
        responses: {
            /** @description HTTP 202 */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "server": {
                     *         "backup_limit": 5,
                     *         "created_at": "2026-11-23T10:00:00.000Z",
                     *         "id": "0b9f3c1e-5d7a-4d6e-9f52-2a3f7c1b8e40",
                     *         "lifecycle_reason": null,
                     *         "name": "Friday survival",
                     *         "owner_id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21",
                     *         "resources": {
                     *           "cpu_cores": 1,
                     *           "disk_mb": 5120,
                     *           "memory_mb": 1024
                     *         },
                     *         "state": {
                     *           "checked_at": "2026-11-23T10:15:02.000Z",
                     *           "details": {
                     *             "backup": {
                     *               "in_progress": null
                     *             },
                     *             "pid": 4242,
                     *             "since": "2026-11-23T10:01:40Z",
                     *             "state": "running",
                     *             "uptime_s": 802
                     *           },
                     *           "error": null,
                     *           "last_seen_at": "2026-11-23T10:15:02.000Z",
                     *           "lifecycle": "provisioning",
                     *           "reachable": false,
                     *           "ready": false,
                     *           "stale": false,
                     *           "status": "unknown"
                     *         },
                     *         "template": "sample",
                     *         "updated_at": "2026-11-23T10:01:41.000Z"
                     *       }
                     *     }
                     */
                    "application/json": {
                        server: components["schemas"]["GameServer"];
                    };
                };
            };
            /** @description Invalid name, or an unknown template (TEMPLATE_UNKNOWN, details.available lists the ids) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description The plan allows no more game servers (PLAN_LIMIT_REACHED, details.limit and details.used), or a payment is overdue (BILLING_PAST_DUE) */
            402: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
        };
    };
    getApiGameServersId: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Server id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "server": {
                     *         "backup_limit": 5,
                     *         "created_at": "2026-11-23T10:00:00.000Z",
                     *         "id": "0b9f3c1e-5d7a-4d6e-9f52-2a3f7c1b8e40",
                     *         "lifecycle_reason": null,
                     *         "name": "Friday survival",
                     *         "owner_id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21",
                     *         "resources": {
                     *           "cpu_cores": 1,
                     *           "disk_mb": 5120,
                     *           "memory_mb": 1024
                     *         },
                     *         "state": {
                     *           "checked_at": "2026-11-23T10:15:02.000Z",
                     *           "details": {
                     *             "backup": {
                     *               "in_progress": null
                     *             },
                     *             "pid": 4242,
                     *             "since": "2026-11-23T10:01:40Z",
                     *             "state": "running",
                     *             "uptime_s": 802
                     *           },
                     *           "error": null,
                     *           "last_seen_at": "2026-11-23T10:15:02.000Z",
                     *           "lifecycle": "active",
                     *           "reachable": true,
                     *           "ready": true,
                     *           "stale": false,
                     *           "status": "running"
                     *         },
                     *         "template": "sample",
                     *         "updated_at": "2026-11-23T10:01:41.000Z"
                     *       }
                     *     }
                     */
                    "application/json": {
                        server: components["schemas"]["GameServer"];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            500: components["responses"]["InternalError"];
        };
    };
    deleteApiGameServersId: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Server id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 202 */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "server": {
                     *         "backup_limit": 5,
                     *         "created_at": "2026-11-23T10:00:00.000Z",
                     *         "id": "0b9f3c1e-5d7a-4d6e-9f52-2a3f7c1b8e40",
                     *         "lifecycle_reason": null,
                     *         "name": "Friday survival",
                     *         "owner_id": "6a1d2a8e-0a43-4a43-8c0e-5b1f3c9d7e21",
                     *         "resources": {
                     *           "cpu_cores": 1,
                     *           "disk_mb": 5120,
                     *           "memory_mb": 1024
                     *         },
                     *         "state": {
                     *           "checked_at": "2026-11-23T10:15:02.000Z",
                     *           "details": {
                     *             "backup": {
                     *               "in_progress": null
                     *             },
                     *             "pid": 4242,
                     *             "since": "2026-11-23T10:01:40Z",
                     *             "state": "running",
                     *             "uptime_s": 802
                     *           },
                     *           "error": null,
                     *           "last_seen_at": "2026-11-23T10:15:02.000Z",
                     *           "lifecycle": "deleting",
                     *           "reachable": true,
                     *           "ready": true,
                     *           "stale": false,
                     *           "status": "running"
                     *         },
                     *         "template": "sample",
                     *         "updated_at": "2026-11-23T10:01:41.000Z"
                     *       }
                     *     }
                     */
                    "application/json": {
                        server: components["schemas"]["GameServer"];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            500: components["responses"]["InternalError"];
        };
    };
    getApiGameServersIdBackups: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Server id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "backups": [
                     *         {
                     *           "completed_at": "2026-11-23T10:20:41.000Z",
                     *           "created_at": "2026-11-23T10:20:00.000Z",
                     *           "id": "c3e1a9b2-7f44-4e0b-a1d3-99f0e2b4c6d8",
                     *           "locked": false,
                     *           "name": "before-update",
                     *           "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                     *           "size_bytes": 73400320,
                     *           "state": "completed"
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": {
                        backups: components["schemas"]["Backup"][];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description The server has no agent now (INSTANCE_NOT_ACTIVE) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or something outside the contract (AGENT_BAD_RESPONSE); details.agent_body holds what it said */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent cannot be reached (AGENT_UNREACHABLE) or did not answer in time (AGENT_TIMEOUT); the server may be stopped or restarting */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    postApiGameServersIdBackups: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Server id */
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "locked": true,
                 *       "name": "before-update"
                 *     }
                 */
                "application/json": {
                    /**
                     * @description a locked backup cannot be deleted until unlocked
                     * @default false
                     */
                    locked?: boolean;
                    /** @description default: backup-<timestamp> */
                    name?: string;
                };
            };
        };
        responses: {
            /** @description HTTP 202 */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "backup": {
                     *         "completed_at": null,
                     *         "created_at": "2026-11-23T10:20:00.000Z",
                     *         "id": "c3e1a9b2-7f44-4e0b-a1d3-99f0e2b4c6d8",
                     *         "locked": true,
                     *         "name": "before-update",
                     *         "sha256": null,
                     *         "size_bytes": null,
                     *         "state": "in_progress"
                     *       }
                     *     }
                     */
                    "application/json": {
                        backup: components["schemas"]["Backup"];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description The server is not active (INSTANCE_NOT_ACTIVE), it has reached its backup limit (BACKUP_LIMIT_REACHED), or The agent refused (AGENT_ERROR with the agent's status, its body in details.agent_body; e.g. 409 when a backup is already running) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            /** @description More than 2 backups in 10 minutes on this server (RATE_LIMIT_EXCEEDED) */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or something outside the contract (AGENT_BAD_RESPONSE); details.agent_body holds what it said */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent cannot be reached (AGENT_UNREACHABLE) or did not answer in time (AGENT_TIMEOUT); the server may be stopped or restarting */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteApiGameServersIdBackupsBackupId: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description Backup id
                 * @example c3e1a9b2-7f44-4e0b-a1d3-99f0e2b4c6d8
                 */
                backupId: string;
                /**
                 * @description Server id
                 * @example 0b9f3c1e-5d7a-4d6e-9f52-2a3f7c1b8e40
                 */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Done; no body */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description The backup is locked (BACKUP_LOCKED), the server is not active (INSTANCE_NOT_ACTIVE), or The agent refused (AGENT_ERROR with the agent's status, its body in details.agent_body; e.g. 409 when a backup is already running) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or something outside the contract (AGENT_BAD_RESPONSE); details.agent_body holds what it said */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent cannot be reached (AGENT_UNREACHABLE) or did not answer in time (AGENT_TIMEOUT); the server may be stopped or restarting */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    patchApiGameServersIdBackupsBackupId: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Backup id */
                backupId: string;
                /** @description Server id */
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "locked": true
                 *     }
                 */
                "application/json": {
                    locked: boolean;
                };
            };
        };
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "backup": {
                     *         "completed_at": "2026-11-23T10:20:41.000Z",
                     *         "created_at": "2026-11-23T10:20:00.000Z",
                     *         "id": "c3e1a9b2-7f44-4e0b-a1d3-99f0e2b4c6d8",
                     *         "locked": true,
                     *         "name": "before-update",
                     *         "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                     *         "size_bytes": 73400320,
                     *         "state": "completed"
                     *       }
                     *     }
                     */
                    "application/json": {
                        backup: components["schemas"]["Backup"];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
        };
    };
    getApiGameServersIdBackupsBackupIdDownload: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @example c3e1a9b2-7f44-4e0b-a1d3-99f0e2b4c6d8 */
                backupId: string;
                /**
                 * @description Server id
                 * @example 0b9f3c1e-5d7a-4d6e-9f52-2a3f7c1b8e40
                 */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The backup as .tar.gz, with Content-Disposition and X-Checksum-Sha256 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/gzip": string;
                };
            };
            /** @description The asked byte range, with Content-Range */
            206: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/gzip": string;
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description The backup is not completed (BACKUP_NOT_READY) or the server is not active (INSTANCE_NOT_ACTIVE) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The range starts at or past the end of the file (RANGE_NOT_SATISFIABLE, with `Content-Range: bytes *\/<size>`) */
            416: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or something outside the contract (AGENT_BAD_RESPONSE); details.agent_body holds what it said */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent cannot be reached (AGENT_UNREACHABLE) or did not answer in time (AGENT_TIMEOUT); the server may be stopped or restarting */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    postApiGameServersIdBackupsBackupIdDownloadUrl: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                backupId: string;
                /** @description Server id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 201 */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "expires_at": "2026-11-23T10:05:00.000Z",
                     *       "url": "https://panel.example.com/api/files/signed?token=eyJrIjoi..."
                     *     }
                     */
                    "application/json": {
                        /** Format: date-time */
                        expires_at: string;
                        url: string;
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description The backup is not completed (BACKUP_NOT_READY) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
        };
    };
    postApiGameServersIdBackupsRestore: {
        parameters: {
            query: {
                /** @description the backup to restore */
                id: string;
            };
            header?: never;
            path: {
                /** @description Server id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 202 */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "backup": {
                     *         "completed_at": "2026-11-23T10:20:41.000Z",
                     *         "created_at": "2026-11-23T10:20:00.000Z",
                     *         "id": "c3e1a9b2-7f44-4e0b-a1d3-99f0e2b4c6d8",
                     *         "locked": false,
                     *         "name": "before-update",
                     *         "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                     *         "size_bytes": 73400320,
                     *         "state": "completed"
                     *       }
                     *     }
                     */
                    "application/json": {
                        backup: components["schemas"]["Backup"];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description The server is not active (INSTANCE_NOT_ACTIVE), the backup is not completed (BACKUP_NOT_RESTORABLE), or The agent refused (AGENT_ERROR with the agent's status, its body in details.agent_body; e.g. 409 when a backup is already running) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or something outside the contract (AGENT_BAD_RESPONSE); details.agent_body holds what it said */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent cannot be reached (AGENT_UNREACHABLE) or did not answer in time (AGENT_TIMEOUT); the server may be stopped or restarting */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    putApiGameServersIdBackupsUpload: {
        parameters: {
            query?: {
                name?: string;
            };
            header?: never;
            path: {
                /** @description Server id */
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/octet-stream": string;
            };
        };
        responses: {
            /** @description HTTP 201 */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "backup": {
                     *         "completed_at": "2026-11-23T10:20:41.000Z",
                     *         "created_at": "2026-11-23T10:20:00.000Z",
                     *         "id": "c3e1a9b2-7f44-4e0b-a1d3-99f0e2b4c6d8",
                     *         "locked": false,
                     *         "name": "imported-world",
                     *         "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
                     *         "size_bytes": 73400320,
                     *         "state": "completed"
                     *       }
                     *     }
                     */
                    "application/json": {
                        backup: components["schemas"]["Backup"];
                    };
                };
            };
            /** @description Not a readable archive (AGENT_ERROR, agent code not_an_archive) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description At the backup limit (BACKUP_LIMIT_REACHED) or not active (INSTANCE_NOT_ACTIVE) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Over the upload limit (PAYLOAD_TOO_LARGE) */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or something outside the contract (AGENT_BAD_RESPONSE); details.agent_body holds what it said */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent cannot be reached (AGENT_UNREACHABLE) or did not answer in time (AGENT_TIMEOUT); the server may be stopped or restarting */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    openGameServerConsole: {
        parameters: {
            query?: never;
            header: {
                /** @description Must be `websocket` */
                Upgrade: "websocket";
            };
            path: {
                /** @example 0b9f3c1e-5d7a-4d6e-9f52-2a3f7c1b8e40 */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Switching Protocols: the WebSocket is open. Close codes: 1001 the API is restarting (reconnect); 1009 a message over the size limit; 4403 your sessions ended; 4404 the server was deleted; 4408 output read too slowly; 4409 the server left `active`; 4429 this socket sent too many messages; 4502 the agent's console went away (get a new ticket and reconnect). */
            101: {
                headers: {
                    /** @description Always `Upgrade` */
                    Connection?: "Upgrade";
                    /** @description RFC 6455 handshake answer */
                    "Sec-WebSocket-Accept"?: string;
                    /** @description Always `websocket` */
                    Upgrade?: "websocket";
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description No ticket (TICKET_MISSING), or it is invalid, used or expired (TICKET_INVALID) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The Origin is not allowed (ORIGIN_NOT_ALLOWED) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No such server, or not yours (NOT_FOUND) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The server is not `active` (INSTANCE_NOT_ACTIVE) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Too many consoles open on this server (CONSOLE_SOCKET_LIMIT), or too many upgrades from this IP (RATE_LIMIT_EXCEEDED) */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description The agent cannot be reached (AGENT_UNREACHABLE) */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    postApiGameServersIdConsoleCommand: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Server id */
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "command": "say Restarting in 5 minutes"
                 *     }
                 */
                "application/json": {
                    /** @description 1..4096 characters, no NUL */
                    command: string;
                };
            };
        };
        responses: {
            /** @description HTTP 202 */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /** @example {} */
                    "application/json": Record<string, never>;
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description The server is not `active` (INSTANCE_NOT_ACTIVE), or its workload is not running (AGENT_ERROR, agent code not_running) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or something outside the contract (AGENT_BAD_RESPONSE); details.agent_body holds what it said */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent cannot be reached (AGENT_UNREACHABLE) or did not answer in time (AGENT_TIMEOUT); the server may be stopped or restarting */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getApiGameServersIdConsoleLogs: {
        parameters: {
            query?: {
                /** @description how many lines, 1..1000 (default 150) */
                lines?: number;
            };
            header?: never;
            path: {
                /** @description Server id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "lines": [
                     *         "[12:01:40] Server ready",
                     *         "> say hi",
                     *         "[12:02:03] [Server] hi"
                     *       ]
                     *     }
                     */
                    "application/json": {
                        lines: string[];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description The server has no agent now (INSTANCE_NOT_ACTIVE: provisioning, failed or deleting) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or something outside the contract (AGENT_BAD_RESPONSE); details.agent_body holds what it said */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent cannot be reached (AGENT_UNREACHABLE) or did not answer in time (AGENT_TIMEOUT); the server may be stopped or restarting */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    postApiGameServersIdConsoleTicket: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Server id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 201 */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "expires_at": "2026-11-23T10:16:02.000Z",
                     *       "ticket": "tkt_4x9...",
                     *       "url": "wss://panel.example.com/api/game/servers/0b9f3c1e-5d7a-4d6e-9f52-2a3f7c1b8e40/console?ticket=tkt_4x9..."
                     *     }
                     */
                    "application/json": {
                        /** Format: date-time */
                        expires_at: string;
                        ticket: string;
                        url: string;
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description The server is not `active` (INSTANCE_NOT_ACTIVE) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
        };
    };
    getApiGameServersIdFiles: {
        parameters: {
            query: {
                /** @description path inside the data directory; "/" is its root */
                path: string;
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "entries": [
                     *         {
                     *           "modified_at": "2026-11-23T10:00:00.000Z",
                     *           "name": "level.dat",
                     *           "size_bytes": 8192,
                     *           "type": "file"
                     *         }
                     *       ],
                     *       "path": "/world"
                     *     }
                     */
                    "application/json": {
                        entries: components["schemas"]["FileEntry"][];
                        path: string;
                    };
                };
            };
            /** @description The path is not valid or leaves the data directory (VALIDATION_FAILED, or AGENT_ERROR with agent code path_outside_root) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description No such server, or no such directory (AGENT_ERROR) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The instance is not `active` (INSTANCE_NOT_ACTIVE) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or garbage (AGENT_BAD_RESPONSE) */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent is unreachable (AGENT_UNREACHABLE) or the transfer stalled (AGENT_TIMEOUT) */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    deleteApiGameServersIdFiles: {
        parameters: {
            query: {
                /**
                 * @description path inside the data directory; "/" is its root
                 * @example /logs/old
                 */
                path: string;
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Done; no body */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The path is not valid or leaves the data directory (VALIDATION_FAILED, or AGENT_ERROR with agent code path_outside_root) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description The instance is not `active` (INSTANCE_NOT_ACTIVE) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or garbage (AGENT_BAD_RESPONSE) */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent is unreachable (AGENT_UNREACHABLE) or the transfer stalled (AGENT_TIMEOUT) */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getApiGameServersIdFilesContent: {
        parameters: {
            query: {
                /**
                 * @description path inside the data directory; "/" is its root
                 * @example /server.properties
                 */
                path: string;
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The file's bytes, with Content-Disposition: attachment */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": string;
                };
            };
            /** @description The asked byte range, with Content-Range */
            206: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/octet-stream": string;
                };
            };
            /** @description The path is not valid or leaves the data directory (VALIDATION_FAILED, or AGENT_ERROR with agent code path_outside_root) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description The instance is not `active` (INSTANCE_NOT_ACTIVE) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The range starts at or past the end of the file (RANGE_NOT_SATISFIABLE, with `Content-Range: bytes *\/<size>`) */
            416: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or garbage (AGENT_BAD_RESPONSE) */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent is unreachable (AGENT_UNREACHABLE) or the transfer stalled (AGENT_TIMEOUT) */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    putApiGameServersIdFilesContent: {
        parameters: {
            query: {
                /** @description path inside the data directory; "/" is its root */
                path: string;
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                "application/octet-stream": string;
            };
        };
        responses: {
            /** @description HTTP 201 */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "entry": {
                     *         "modified_at": "2026-11-23T10:00:00.000Z",
                     *         "name": "server.properties",
                     *         "size_bytes": 1180,
                     *         "type": "file"
                     *       }
                     *     }
                     */
                    "application/json": {
                        entry: components["schemas"]["FileEntry"];
                    };
                };
            };
            /** @description The path is not valid or leaves the data directory (VALIDATION_FAILED, or AGENT_ERROR with agent code path_outside_root) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description The instance is not `active` (INSTANCE_NOT_ACTIVE) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description Over the upload limit (PAYLOAD_TOO_LARGE) */
            413: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or garbage (AGENT_BAD_RESPONSE) */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent is unreachable (AGENT_UNREACHABLE) or the transfer stalled (AGENT_TIMEOUT) */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The disk is full (AGENT_ERROR, agent code disk_full) */
            507: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    postApiGameServersIdFilesDownloadUrl: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "path": "/world/level.dat"
                 *     }
                 */
                "application/json": {
                    /** @description path inside the data directory; "/" is its root */
                    path: string;
                };
            };
        };
        responses: {
            /** @description HTTP 201 */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "expires_at": "2026-11-23T10:05:00.000Z",
                     *       "url": "https://panel.example.com/api/files/signed?token=eyJ1Ijoi..."
                     *     }
                     */
                    "application/json": {
                        /** Format: date-time */
                        expires_at: string;
                        url: string;
                    };
                };
            };
            /** @description The path is not valid or leaves the data directory (VALIDATION_FAILED, or AGENT_ERROR with agent code path_outside_root) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description The instance is not `active` (INSTANCE_NOT_ACTIVE) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or garbage (AGENT_BAD_RESPONSE) */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent is unreachable (AGENT_UNREACHABLE) or the transfer stalled (AGENT_TIMEOUT) */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    postApiGameServersIdFilesMkdir: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "path": "/mods"
                 *     }
                 */
                "application/json": {
                    /** @description path inside the data directory; "/" is its root */
                    path: string;
                };
            };
        };
        responses: {
            /** @description HTTP 201 */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "entry": {
                     *         "modified_at": "2026-11-23T10:00:00.000Z",
                     *         "name": "mods",
                     *         "size_bytes": 0,
                     *         "type": "dir"
                     *       }
                     *     }
                     */
                    "application/json": {
                        entry: components["schemas"]["FileEntry"];
                    };
                };
            };
            /** @description The path is not valid or leaves the data directory (VALIDATION_FAILED, or AGENT_ERROR with agent code path_outside_root) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description Something exists at that path (AGENT_ERROR), or the instance is not `active` (INSTANCE_NOT_ACTIVE) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or garbage (AGENT_BAD_RESPONSE) */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent is unreachable (AGENT_UNREACHABLE) or the transfer stalled (AGENT_TIMEOUT) */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    postApiGameServersIdFilesUploadUrl: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "path": "/world/level.dat"
                 *     }
                 */
                "application/json": {
                    /** @description path inside the data directory; "/" is its root */
                    path: string;
                };
            };
        };
        responses: {
            /** @description HTTP 201 */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "expires_at": "2026-11-23T10:05:00.000Z",
                     *       "url": "https://panel.example.com/api/files/signed?token=eyJ1Ijoi..."
                     *     }
                     */
                    "application/json": {
                        /** Format: date-time */
                        expires_at: string;
                        url: string;
                    };
                };
            };
            /** @description The path is not valid or leaves the data directory (VALIDATION_FAILED, or AGENT_ERROR with agent code path_outside_root) */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            404: components["responses"]["NotFound"];
            /** @description The instance is not `active` (INSTANCE_NOT_ACTIVE) */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or garbage (AGENT_BAD_RESPONSE) */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent is unreachable (AGENT_UNREACHABLE) or the transfer stalled (AGENT_TIMEOUT) */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    postApiGameServersIdRestart: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Server id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 202 */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "action": "restart",
                     *       "server_id": "0b9f3c1e-5d7a-4d6e-9f52-2a3f7c1b8e40",
                     *       "status": "starting"
                     *     }
                     */
                    "application/json": {
                        /** @enum {string} */
                        action: "start" | "stop" | "restart";
                        /** Format: uuid */
                        server_id: string;
                        /** @description what the agent expects next: starting, stopping */
                        status: string;
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            /** @description The owner's payment is overdue beyond the grace period (BILLING_PAST_DUE); not for stop */
            402: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            404: components["responses"]["NotFound"];
            /** @description The server is not `active` (INSTANCE_NOT_ACTIVE, details.lifecycle); or the agent refused (AGENT_ERROR, e.g. already running), its body in details.agent_body */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or something outside the contract (AGENT_BAD_RESPONSE); details.agent_body holds what it said */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent cannot be reached (AGENT_UNREACHABLE) or did not answer in time (AGENT_TIMEOUT); the server may be stopped or restarting */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    postApiGameServersIdStart: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Server id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 202 */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "action": "start",
                     *       "server_id": "0b9f3c1e-5d7a-4d6e-9f52-2a3f7c1b8e40",
                     *       "status": "starting"
                     *     }
                     */
                    "application/json": {
                        /** @enum {string} */
                        action: "start" | "stop" | "restart";
                        /** Format: uuid */
                        server_id: string;
                        /** @description what the agent expects next: starting, stopping */
                        status: string;
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            /** @description The owner's payment is overdue beyond the grace period (BILLING_PAST_DUE); not for stop */
            402: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            404: components["responses"]["NotFound"];
            /** @description The server is not `active` (INSTANCE_NOT_ACTIVE, details.lifecycle); or the agent refused (AGENT_ERROR, e.g. already running), its body in details.agent_body */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or something outside the contract (AGENT_BAD_RESPONSE); details.agent_body holds what it said */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent cannot be reached (AGENT_UNREACHABLE) or did not answer in time (AGENT_TIMEOUT); the server may be stopped or restarting */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    postApiGameServersIdStop: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @description Server id */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 202 */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "action": "stop",
                     *       "server_id": "0b9f3c1e-5d7a-4d6e-9f52-2a3f7c1b8e40",
                     *       "status": "stopping"
                     *     }
                     */
                    "application/json": {
                        /** @enum {string} */
                        action: "start" | "stop" | "restart";
                        /** Format: uuid */
                        server_id: string;
                        /** @description what the agent expects next: starting, stopping */
                        status: string;
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            /** @description The owner's payment is overdue beyond the grace period (BILLING_PAST_DUE); not for stop */
            402: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            404: components["responses"]["NotFound"];
            /** @description The server is not `active` (INSTANCE_NOT_ACTIVE, details.lifecycle); or the agent refused (AGENT_ERROR, e.g. already running), its body in details.agent_body */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description The agent answered 5xx or something outside the contract (AGENT_BAD_RESPONSE); details.agent_body holds what it said */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description The agent cannot be reached (AGENT_UNREACHABLE) or did not answer in time (AGENT_TIMEOUT); the server may be stopped or restarting */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getApiGameTemplates: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "default_template": "small",
                     *       "templates": [
                     *         {
                     *           "backup_limit": 5,
                     *           "display_name": "Small (1 core, 1 GB)",
                     *           "id": "small",
                     *           "resources": {
                     *             "cpu_cores": 1,
                     *             "disk_mb": 5120,
                     *             "memory_mb": 1024
                     *           }
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": {
                        default_template: string;
                        templates: {
                            backup_limit: number;
                            display_name: string;
                            id: string;
                            resources: {
                                cpu_cores: number;
                                disk_mb: number;
                                memory_mb: number;
                            };
                        }[];
                    };
                };
            };
            401: components["responses"]["Unauthorized"];
            500: components["responses"]["InternalError"];
        };
    };
    postApiV1AdminAgentKeys: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "agent_id": "docker-host-01"
                 *     }
                 */
                "application/json": {
                    agent_id: string;
                };
            };
        };
        responses: {
            /** @description HTTP 201 */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "agent_id": "docker-host-01",
                     *       "created_at": "2025-11-22T10:00:00Z",
                     *       "key": "ssak_3q2..."
                     *     }
                     */
                    "application/json": {
                        agent_id: string;
                        /** Format: date-time */
                        created_at: string;
                        key: string;
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
        };
    };
    deleteApiV1AdminAgentKeysAgentId: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @example docker-host-01 */
                agent_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Done; no body */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            /** @description AGENT_NOT_FOUND (no key for this agent_id) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
        };
    };
    getApiV1Agents: {
        parameters: {
            query?: {
                /** @description Results per page (default 20, max 100; larger values are clamped) */
                limit?: number;
                /** @description Page number, from 1 */
                page?: number;
                platform?: string;
                region?: string;
                status?: "online" | "offline" | "draining";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "agents": [
                     *         {
                     *           "agent_id": "docker-host-01",
                     *           "capacity": {
                     *             "current_sessions": 5,
                     *             "max_sessions": 50
                     *           },
                     *           "created_at": "2025-11-15T10:00:00Z",
                     *           "id": "660e8400-e29b-41d4-a716-446655440001",
                     *           "last_heartbeat": "2025-11-22T10:35:02Z",
                     *           "metadata": {
                     *             "agent_version": "v2.0-beta.1",
                     *             "docker_version": "24.0.7"
                     *           },
                     *           "platform": "docker",
                     *           "region": "us-east-1",
                     *           "status": "online",
                     *           "updated_at": "2025-11-22T10:35:02Z",
                     *           "websocket_conn_id": "conn-def456"
                     *         }
                     *       ],
                     *       "pagination": {
                     *         "limit": 20,
                     *         "page": 1,
                     *         "total": 1,
                     *         "total_pages": 1
                     *       }
                     *     }
                     */
                    "application/json": {
                        agents: components["schemas"]["StreamspaceAgent"][];
                        pagination: components["schemas"]["Pagination"];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            500: components["responses"]["InternalError"];
        };
    };
    getApiV1AgentsAgentId: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                agent_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "agent_id": "docker-host-01",
                     *       "capacity": {
                     *         "current_sessions": 5,
                     *         "max_sessions": 50
                     *       },
                     *       "created_at": "2025-11-15T10:00:00Z",
                     *       "id": "660e8400-e29b-41d4-a716-446655440001",
                     *       "last_heartbeat": "2025-11-22T10:35:02Z",
                     *       "metadata": {
                     *         "agent_version": "v2.0-beta.1",
                     *         "docker_version": "24.0.7"
                     *       },
                     *       "platform": "docker",
                     *       "region": "us-east-1",
                     *       "sessions": [
                     *         {
                     *           "id": "770e8400-e29b-41d4-a716-446655440002",
                     *           "name": "john-doe-firefox-browser-abc123",
                     *           "state": "running",
                     *           "template": "firefox-browser",
                     *           "user": "john.doe"
                     *         }
                     *       ],
                     *       "status": "online",
                     *       "updated_at": "2025-11-22T10:35:02Z",
                     *       "uptime_seconds": 86400,
                     *       "websocket_conn_id": "conn-def456"
                     *     }
                     */
                    "application/json": {
                        agent_id: string;
                        capacity: {
                            current_sessions: number;
                            max_sessions: number;
                        } & {
                            [key: string]: unknown;
                        };
                        /** Format: date-time */
                        created_at: string;
                        /** Format: uuid */
                        id: string;
                        last_heartbeat: string | null;
                        metadata: {
                            [key: string]: unknown;
                        };
                        platform: string;
                        region: string | null;
                        sessions: {
                            /** Format: uuid */
                            id: string;
                            name: string;
                            /** @enum {string} */
                            state: "pending" | "running" | "hibernating" | "hibernated" | "waking" | "terminating" | "terminated" | "failed";
                            template: string;
                            user: string;
                        }[];
                        /** @enum {string} */
                        status: "online" | "offline" | "draining";
                        /** Format: date-time */
                        updated_at: string;
                        uptime_seconds: number | null;
                        websocket_conn_id: string | null;
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            /** @description AGENT_NOT_FOUND */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
        };
    };
    patchApiV1AgentsAgentId: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                agent_id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "status": "draining"
                 *     }
                 */
                "application/json": {
                    /** @enum {string} */
                    status: "online" | "offline" | "draining";
                };
            };
        };
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "agent_id": "docker-host-01",
                     *       "id": "660e8400-e29b-41d4-a716-446655440001",
                     *       "status": "draining",
                     *       "updated_at": "2025-11-22T10:40:00Z"
                     *     }
                     */
                    "application/json": {
                        agent_id: string;
                        /** Format: uuid */
                        id: string;
                        /** @enum {string} */
                        status: "online" | "offline" | "draining";
                        /** Format: date-time */
                        updated_at: string;
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            /** @description AGENT_NOT_FOUND */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
        };
    };
    getApiV1AgentsStats: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "by_platform": {
                     *         "docker": 2,
                     *         "kubernetes": 1
                     *       },
                     *       "draining_agents": 0,
                     *       "offline_agents": 1,
                     *       "online_agents": 2,
                     *       "total_agents": 3,
                     *       "total_capacity": {
                     *         "current_sessions": 5,
                     *         "max_sessions": 100
                     *       },
                     *       "utilization": {
                     *         "percentage": 5,
                     *         "sessions_available": 95
                     *       }
                     *     }
                     */
                    "application/json": {
                        by_platform: {
                            [key: string]: number;
                        };
                        draining_agents: number;
                        offline_agents: number;
                        online_agents: number;
                        total_agents: number;
                        total_capacity: {
                            current_sessions: number;
                            max_sessions: number;
                        };
                        utilization: {
                            percentage: number;
                            sessions_available: number;
                        };
                    };
                };
            };
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            500: components["responses"]["InternalError"];
        };
    };
    postApiV1AuthLogin: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "password": "your-password",
                 *       "username": "admin"
                 *     }
                 */
                "application/json": {
                    password: string;
                    username: string;
                };
            };
        };
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "expires_at": "2025-11-23T10:00:00Z",
                     *       "token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
                     *       "user": {
                     *         "created_at": "2025-11-01T10:00:00Z",
                     *         "email": "admin@example.com",
                     *         "id": "550e8400-e29b-41d4-a716-446655440000",
                     *         "role": "admin",
                     *         "username": "admin"
                     *       }
                     *     }
                     */
                    "application/json": {
                        /** Format: date-time */
                        expires_at: string;
                        token: string;
                        user: {
                            /** Format: date-time */
                            created_at: string;
                            email: string;
                            /** Format: uuid */
                            id: string;
                            /** @enum {string} */
                            role: "admin" | "user";
                            username: string;
                        };
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            /** @description AUTH_INVALID_CREDENTIALS */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description AUTH_USER_DISABLED */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            /** @description RATE_LIMIT_EXCEEDED (retry_after in the body) */
            429: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
        };
    };
    postApiV1AuthLogout: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "message": "Logout successful"
                     *     }
                     */
                    "application/json": {
                        message: string;
                    };
                };
            };
            401: components["responses"]["Unauthorized"];
            500: components["responses"]["InternalError"];
        };
    };
    getApiV1Sessions: {
        parameters: {
            query?: {
                agent_id?: string;
                /** @description Results per page (default 20, max 100; larger values are clamped) */
                limit?: number;
                order?: "asc" | "desc";
                /** @description Page number, from 1 */
                page?: number;
                platform?: string;
                sort?: "created_at" | "updated_at" | "user" | "state";
                /** @description Terminated sessions are listed only with state=terminated */
                state?: "pending" | "running" | "hibernating" | "hibernated" | "waking" | "terminating" | "terminated" | "failed";
                /** @description Comma-separated; sessions carrying all of them */
                tags?: string;
                template?: string;
                user?: string;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "pagination": {
                     *         "limit": 20,
                     *         "page": 1,
                     *         "total": 1,
                     *         "total_pages": 1
                     *       },
                     *       "sessions": [
                     *         {
                     *           "agent_id": "docker-host-01",
                     *           "created_at": "2025-11-22T10:45:00Z",
                     *           "id": "770e8400-e29b-41d4-a716-446655440002",
                     *           "idle_timeout": "30m",
                     *           "last_activity": "2025-11-22T10:45:00Z",
                     *           "name": "john-doe-firefox-browser-abc123",
                     *           "namespace": "streamspace",
                     *           "persistent_home": true,
                     *           "platform": "docker",
                     *           "platform_metadata": {
                     *             "deployment_name": "john-doe-firefox-browser-abc123",
                     *             "namespace": "streamspace"
                     *           },
                     *           "region": "us-east-1",
                     *           "resources": {
                     *             "cpu": "1000m",
                     *             "memory": "2Gi"
                     *           },
                     *           "state": "pending",
                     *           "status": {
                     *             "container_id": null,
                     *             "error_code": null,
                     *             "message": "Session provisioning in progress...",
                     *             "phase": "Pending",
                     *             "pod_ip": null,
                     *             "pod_name": null,
                     *             "started_at": null,
                     *             "vnc_url": null
                     *           },
                     *           "tags": [
                     *             "project-alpha",
                     *             "development"
                     *           ],
                     *           "template": "firefox-browser",
                     *           "updated_at": "2025-11-22T10:45:00Z",
                     *           "user": "john.doe"
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": {
                        pagination: components["schemas"]["Pagination"];
                        sessions: components["schemas"]["StreamspaceSession"][];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            500: components["responses"]["InternalError"];
        };
    };
    postApiV1Sessions: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "resources": {
                 *         "cpu": "1000m",
                 *         "memory": "2Gi"
                 *       },
                 *       "state": "running",
                 *       "tags": [
                 *         "project-alpha",
                 *         "development"
                 *       ],
                 *       "template": "firefox-browser"
                 *     }
                 */
                "application/json": {
                    idle_timeout?: string;
                    /** @description Extension: pick the name (unique among live sessions; 409 SESSION_ALREADY_EXISTS). Generated when omitted. */
                    name?: string;
                    persistent_home?: boolean;
                    platform?: string;
                    /** @description Extension (addendum): place only on agents of this region */
                    region?: string;
                    resources?: {
                        cpu?: string;
                        memory?: string;
                    };
                    /**
                     * @default running
                     * @enum {string}
                     */
                    state?: "running" | "hibernated";
                    /** @default [] */
                    tags?: string[];
                    template: string;
                    /** @description Username; defaults to the caller. Only admins may name another user. */
                    user?: string;
                };
            };
        };
        responses: {
            /** @description HTTP 202 */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "agent_id": "docker-host-01",
                     *       "created_at": "2025-11-22T10:45:00Z",
                     *       "id": "770e8400-e29b-41d4-a716-446655440002",
                     *       "idle_timeout": "30m",
                     *       "last_activity": "2025-11-22T10:45:00Z",
                     *       "name": "john-doe-firefox-browser-abc123",
                     *       "namespace": "streamspace",
                     *       "persistent_home": true,
                     *       "platform": "docker",
                     *       "platform_metadata": {
                     *         "deployment_name": "john-doe-firefox-browser-abc123",
                     *         "namespace": "streamspace"
                     *       },
                     *       "region": "us-east-1",
                     *       "resources": {
                     *         "cpu": "1000m",
                     *         "memory": "2Gi"
                     *       },
                     *       "state": "pending",
                     *       "status": {
                     *         "container_id": null,
                     *         "error_code": null,
                     *         "message": "Session provisioning in progress...",
                     *         "phase": "Pending",
                     *         "pod_ip": null,
                     *         "pod_name": null,
                     *         "started_at": null,
                     *         "vnc_url": null
                     *       },
                     *       "tags": [
                     *         "project-alpha",
                     *         "development"
                     *       ],
                     *       "template": "firefox-browser",
                     *       "updated_at": "2025-11-22T10:45:00Z",
                     *       "user": "john.doe"
                     *     }
                     */
                    "application/json": components["schemas"]["StreamspaceSession"];
                };
            };
            /** @description TEMPLATE_NOT_FOUND, MISSING_REQUIRED_FIELD, VALIDATION_FAILED */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description AUTH_INSUFFICIENT_PERMISSIONS (naming another user) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description SESSION_ALREADY_EXISTS */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
            /** @description NO_AGENTS_AVAILABLE, AGENT_CAPACITY_EXCEEDED */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getApiV1SessionsId: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "agent_id": "docker-host-01",
                     *       "created_at": "2025-11-22T10:45:00Z",
                     *       "id": "770e8400-e29b-41d4-a716-446655440002",
                     *       "idle_timeout": "30m",
                     *       "last_activity": "2025-11-22T10:45:00Z",
                     *       "name": "john-doe-firefox-browser-abc123",
                     *       "namespace": "streamspace",
                     *       "persistent_home": true,
                     *       "platform": "docker",
                     *       "platform_metadata": {
                     *         "deployment_name": "john-doe-firefox-browser-abc123",
                     *         "namespace": "streamspace"
                     *       },
                     *       "region": "us-east-1",
                     *       "resources": {
                     *         "cpu": "1000m",
                     *         "memory": "2Gi"
                     *       },
                     *       "state": "pending",
                     *       "status": {
                     *         "container_id": null,
                     *         "error_code": null,
                     *         "message": "Session provisioning in progress...",
                     *         "phase": "Pending",
                     *         "pod_ip": null,
                     *         "pod_name": null,
                     *         "started_at": null,
                     *         "vnc_url": null
                     *       },
                     *       "tags": [
                     *         "project-alpha",
                     *         "development"
                     *       ],
                     *       "template": "firefox-browser",
                     *       "updated_at": "2025-11-22T10:45:00Z",
                     *       "user": "john.doe"
                     *     }
                     */
                    "application/json": components["schemas"]["StreamspaceSession"];
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            /** @description SESSION_NOT_FOUND */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
        };
    };
    deleteApiV1SessionsId: {
        parameters: {
            query?: {
                /** @example false */
                force?: "0" | "1" | "true" | "false";
            };
            header?: never;
            path: {
                /** @example 770e8400-e29b-41d4-a716-446655440002 */
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Done; no body */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            /** @description SESSION_NOT_FOUND */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description SESSION_TERMINATING */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description AGENT_OFFLINE (graceful only; use force=true) */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    patchApiV1SessionsId: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "state": "hibernated"
                 *     }
                 */
                "application/json": {
                    /** @enum {string} */
                    state: "pending" | "running" | "hibernating" | "hibernated" | "waking" | "terminating" | "terminated" | "failed";
                };
            };
        };
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["StreamspaceSession"];
                };
            };
            /** @description HTTP 202 */
            202: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["StreamspaceSession"];
                };
            };
            /** @description INVALID_STATE_TRANSITION */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            /** @description AUTH_INSUFFICIENT_PERMISSIONS ('terminated' by a non-admin) */
            403: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description SESSION_NOT_FOUND */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description SESSION_TERMINATING */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            /** @description SESSION_PROVISIONING_FAILED */
            500: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description AGENT_COMMAND_FAILED */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description AGENT_OFFLINE */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getApiV1SessionsIdCommands: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "commands": [
                     *         {
                     *           "acknowledged_at": "2025-11-22T10:45:01Z",
                     *           "attempts": 1,
                     *           "command_id": "cmd-7f3a9c",
                     *           "command_type": "start_session",
                     *           "completed_at": "2025-11-22T10:45:14Z",
                     *           "error": null,
                     *           "error_code": null,
                     *           "sent_at": "2025-11-22T10:45:01Z",
                     *           "status": "completed"
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": {
                        commands: {
                            acknowledged_at: string | null;
                            attempts: number;
                            command_id: string;
                            command_type: string;
                            completed_at: string | null;
                            error: string | null;
                            error_code: string | null;
                            sent_at: string | null;
                            /** @enum {string} */
                            status: "pending" | "sent" | "acknowledged" | "completed" | "failed" | "timed_out";
                        }[];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            /** @description SESSION_NOT_FOUND */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
        };
    };
    getApiV1SessionsIdLogs: {
        parameters: {
            query?: {
                /** @description Not supported: false only (poll with tail instead) */
                follow?: "0" | "1" | "true" | "false";
                tail?: number;
                timestamps?: "0" | "1" | "true" | "false";
            };
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "logs": [
                     *         "2025-11-22T10:45:15Z [INFO] VNC server started on port 5900"
                     *       ]
                     *     }
                     */
                    "application/json": {
                        logs: string[];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            /** @description SESSION_NOT_FOUND */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
            /** @description AGENT_COMMAND_FAILED */
            502: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description AGENT_OFFLINE */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description AGENT_TIMEOUT */
            504: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getApiV1SessionsIdVncToken: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "expires_at": "2025-11-22T10:46:00Z",
                     *       "token": "vnc_4c1e7a9b2d5f8a3c6e9b1d4f7a2c5e8b",
                     *       "viewer_url": "/vnc-viewer/770e8400-e29b-41d4-a716-446655440002#token=vnc_4c1e7a9b2d5f8a3c6e9b1d4f7a2c5e8b",
                     *       "vnc_url": "/vnc-viewer/770e8400-e29b-41d4-a716-446655440002?token=vnc_4c1e7a9b2d5f8a3c6e9b1d4f7a2c5e8b"
                     *     }
                     */
                    "application/json": {
                        /** Format: date-time */
                        expires_at: string;
                        token: string;
                        /** @description The browser viewer page with the token in its fragment, which is never sent to the server: `/vnc-viewer/{id}#token=<token>` */
                        viewer_url: string;
                        /** @description The WebSocket to hand a VNC client (noVNC): `/vnc-viewer/{id}?token=<token>` */
                        vnc_url: string;
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            /** @description SESSION_NOT_FOUND */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
        };
    };
    getApiV1Templates: {
        parameters: {
            query?: {
                /** @description Exact category, e.g. "Web Browsers" */
                category?: string;
                /** @description Results per page (default 50, max 100; larger values are clamped) */
                limit?: number;
                /** @description Page number, from 1 */
                page?: number;
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "pagination": {
                     *         "limit": 50,
                     *         "page": 1,
                     *         "total": 1,
                     *         "total_pages": 1
                     *       },
                     *       "templates": [
                     *         {
                     *           "base_image": "lscr.io/linuxserver/firefox:latest",
                     *           "category": "Web Browsers",
                     *           "created_at": "2025-11-01T08:00:00Z",
                     *           "default_resources": {
                     *             "cpu": "1000m",
                     *             "memory": "2Gi",
                     *             "storage": "10Gi"
                     *           },
                     *           "description": "Mozilla Firefox web browser with privacy extensions",
                     *           "display_name": "Firefox Web Browser",
                     *           "environment": {
                     *             "PGID": "1000",
                     *             "PUID": "1000",
                     *             "TZ": "UTC"
                     *           },
                     *           "icon_url": "https://cdn.streamspace.io/icons/firefox.svg",
                     *           "id": "880e8400-e29b-41d4-a716-446655440003",
                     *           "idle_timeout": "30m",
                     *           "local": null,
                     *           "name": "firefox-browser",
                     *           "persistent_home": true,
                     *           "tags": [
                     *             "browser",
                     *             "web",
                     *             "privacy"
                     *           ],
                     *           "updated_at": "2025-11-15T10:00:00Z",
                     *           "vnc": {
                     *             "color_depth": 24,
                     *             "enabled": true,
                     *             "port": 3000,
                     *             "resolution": "1920x1080"
                     *           }
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": {
                        pagination: components["schemas"]["Pagination"];
                        templates: components["schemas"]["StreamspaceTemplate"][];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            500: components["responses"]["InternalError"];
        };
    };
    postApiV1Templates: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "base_image": "lscr.io/linuxserver/firefox:latest",
                 *       "category": "Web Browsers",
                 *       "default_resources": {
                 *         "cpu": "1000m",
                 *         "memory": "2Gi",
                 *         "storage": "10Gi"
                 *       },
                 *       "description": "Mozilla Firefox web browser with privacy extensions",
                 *       "display_name": "Firefox Web Browser",
                 *       "environment": {
                 *         "PGID": "1000",
                 *         "PUID": "1000",
                 *         "TZ": "UTC"
                 *       },
                 *       "icon_url": "https://cdn.streamspace.io/icons/firefox.svg",
                 *       "idle_timeout": "30m",
                 *       "local": null,
                 *       "name": "firefox-browser",
                 *       "persistent_home": true,
                 *       "tags": [
                 *         "browser",
                 *         "web",
                 *         "privacy"
                 *       ],
                 *       "vnc": {
                 *         "color_depth": 24,
                 *         "enabled": true,
                 *         "port": 3000,
                 *         "resolution": "1920x1080"
                 *       }
                 *     }
                 */
                "application/json": {
                    base_image: string;
                    category: string;
                    default_resources: {
                        cpu: string;
                        memory: string;
                        storage?: string;
                    };
                    /** @default  */
                    description?: string;
                    display_name: string;
                    /** @default {} */
                    environment?: {
                        [key: string]: string;
                    };
                    /** @default null */
                    icon_url?: string | null;
                    /** @default 30m */
                    idle_timeout?: string;
                    /** @default null */
                    local?: {
                        command: string;
                        /** @default [] */
                        packages?: string[];
                    } | null;
                    name: string;
                    /** @default true */
                    persistent_home?: boolean;
                    /** @default [] */
                    tags?: string[];
                    vnc: {
                        color_depth?: 8 | 16 | 24 | 32;
                        enabled: boolean;
                        port: number;
                        resolution?: string;
                    };
                };
            };
        };
        responses: {
            /** @description HTTP 201 */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["StreamspaceTemplate"];
                };
            };
            /** @description TEMPLATE_INVALID, MISSING_REQUIRED_FIELD */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            /** @description TEMPLATE_ALREADY_EXISTS */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
        };
    };
    getApiV1TemplatesName: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "base_image": "lscr.io/linuxserver/firefox:latest",
                     *       "category": "Web Browsers",
                     *       "created_at": "2025-11-01T08:00:00Z",
                     *       "default_resources": {
                     *         "cpu": "1000m",
                     *         "memory": "2Gi",
                     *         "storage": "10Gi"
                     *       },
                     *       "description": "Mozilla Firefox web browser with privacy extensions",
                     *       "display_name": "Firefox Web Browser",
                     *       "environment": {
                     *         "PGID": "1000",
                     *         "PUID": "1000",
                     *         "TZ": "UTC"
                     *       },
                     *       "icon_url": "https://cdn.streamspace.io/icons/firefox.svg",
                     *       "id": "880e8400-e29b-41d4-a716-446655440003",
                     *       "idle_timeout": "30m",
                     *       "local": null,
                     *       "name": "firefox-browser",
                     *       "persistent_home": true,
                     *       "tags": [
                     *         "browser",
                     *         "web",
                     *         "privacy"
                     *       ],
                     *       "updated_at": "2025-11-15T10:00:00Z",
                     *       "vnc": {
                     *         "color_depth": 24,
                     *         "enabled": true,
                     *         "port": 3000,
                     *         "resolution": "1920x1080"
                     *       }
                     *     }
                     */
                    "application/json": components["schemas"]["StreamspaceTemplate"];
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            /** @description TEMPLATE_NOT_FOUND */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
        };
    };
    deleteApiV1TemplatesName: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /** @example firefox-browser */
                name: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Done; no body */
            204: {
                headers: {
                    [name: string]: unknown;
                };
                content?: never;
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            /** @description TEMPLATE_NOT_FOUND */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description TEMPLATE_IN_USE */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
        };
    };
    patchApiV1TemplatesName: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                name: string;
            };
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "idle_timeout": "1h"
                 *     }
                 */
                "application/json": {
                    base_image?: string;
                    category?: string;
                    default_resources?: {
                        cpu: string;
                        memory: string;
                        storage?: string;
                    };
                    description?: string;
                    display_name?: string;
                    environment?: {
                        [key: string]: string;
                    };
                    icon_url?: string | null;
                    idle_timeout?: string;
                    local?: {
                        command: string;
                        /** @default [] */
                        packages?: string[];
                    } | null;
                    persistent_home?: boolean;
                    tags?: string[];
                    vnc?: {
                        color_depth?: 8 | 16 | 24 | 32;
                        enabled: boolean;
                        port: number;
                        resolution?: string;
                    };
                };
            };
        };
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "base_image": "lscr.io/linuxserver/firefox:latest",
                     *       "category": "Web Browsers",
                     *       "created_at": "2025-11-01T08:00:00Z",
                     *       "default_resources": {
                     *         "cpu": "1000m",
                     *         "memory": "2Gi",
                     *         "storage": "10Gi"
                     *       },
                     *       "description": "Mozilla Firefox web browser with privacy extensions",
                     *       "display_name": "Firefox Web Browser",
                     *       "environment": {
                     *         "PGID": "1000",
                     *         "PUID": "1000",
                     *         "TZ": "UTC"
                     *       },
                     *       "icon_url": "https://cdn.streamspace.io/icons/firefox.svg",
                     *       "id": "880e8400-e29b-41d4-a716-446655440003",
                     *       "idle_timeout": "1h",
                     *       "local": null,
                     *       "name": "firefox-browser",
                     *       "persistent_home": true,
                     *       "tags": [
                     *         "browser",
                     *         "web",
                     *         "privacy"
                     *       ],
                     *       "updated_at": "2025-11-15T10:00:00Z",
                     *       "vnc": {
                     *         "color_depth": 24,
                     *         "enabled": true,
                     *         "port": 3000,
                     *         "resolution": "1920x1080"
                     *       }
                     *     }
                     */
                    "application/json": components["schemas"]["StreamspaceTemplate"];
                };
            };
            /** @description TEMPLATE_INVALID */
            400: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            /** @description TEMPLATE_NOT_FOUND */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
        };
    };
    getApiV1Users: {
        parameters: {
            query?: {
                /** @description Results per page (default 20, max 100; larger values are clamped) */
                limit?: number;
                /** @description Page number, from 1 */
                page?: number;
                role?: "admin" | "user";
            };
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "pagination": {
                     *         "limit": 20,
                     *         "page": 1,
                     *         "total": 1,
                     *         "total_pages": 1
                     *       },
                     *       "users": [
                     *         {
                     *           "active": true,
                     *           "created_at": "2025-11-01T09:00:00Z",
                     *           "email": "john.doe@mail.test",
                     *           "id": "550e8400-e29b-41d4-a716-446655440000",
                     *           "last_login": "2025-11-22T10:30:00Z",
                     *           "role": "user",
                     *           "username": "john.doe"
                     *         }
                     *       ]
                     *     }
                     */
                    "application/json": {
                        pagination: components["schemas"]["Pagination"];
                        users: components["schemas"]["StreamspaceUser"][];
                    };
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            500: components["responses"]["InternalError"];
        };
    };
    postApiV1Users: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody: {
            content: {
                /**
                 * @example {
                 *       "email": "john.doe@mail.test",
                 *       "password": "secure-password",
                 *       "role": "user",
                 *       "username": "john.doe"
                 *     }
                 */
                "application/json": {
                    /** Format: email */
                    email: string;
                    password: string;
                    /**
                     * @default user
                     * @enum {string}
                     */
                    role?: "admin" | "user";
                    username: string;
                };
            };
        };
        responses: {
            /** @description HTTP 201 */
            201: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "active": true,
                     *       "created_at": "2025-11-01T09:00:00Z",
                     *       "email": "john.doe@mail.test",
                     *       "id": "550e8400-e29b-41d4-a716-446655440000",
                     *       "last_login": null,
                     *       "role": "user",
                     *       "username": "john.doe"
                     *     }
                     */
                    "application/json": components["schemas"]["StreamspaceUser"];
                };
            };
            400: components["responses"]["ValidationFailed"];
            401: components["responses"]["Unauthorized"];
            403: components["responses"]["Forbidden"];
            /** @description USER_EXISTS */
            409: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            413: components["responses"]["PayloadTooLarge"];
            415: components["responses"]["UnsupportedMediaType"];
            500: components["responses"]["InternalError"];
        };
    };
    getDocs: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The reference page (HTML; strict Content-Security-Policy, no-store) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example <!doctype html>
                     *     <html lang="en">
                     *     <head><title>API reference</title>…</head>
                     *     <body><div id="redoc"></div>…</body>
                     *     </html>
                     */
                    "text/html": string;
                };
            };
            500: components["responses"]["InternalError"];
        };
    };
    getHealthz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "status": "ok"
                     *     }
                     */
                    "application/json": {
                        /** @enum {string} */
                        status: "ok";
                    };
                };
            };
            500: components["responses"]["InternalError"];
        };
    };
    getMetrics: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description The Prometheus text exposition format */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example # HELP panel_http_requests_total HTTP requests by route and status
                     *     # TYPE panel_http_requests_total counter
                     *     panel_http_requests_total{method="GET",route="/healthz",status="200"} 3
                     */
                    "text/plain; version=0.0.4; charset=utf-8": string;
                };
            };
            /** @description Missing or wrong metrics token (AUTH_TOKEN_INVALID) */
            401: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            /** @description No metrics token is configured, so metrics are off (NOT_FOUND) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
        };
    };
    getOpenapiJson: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description An OpenAPI 3.1 document */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "info": {
                     *         "title": "Hosting panel API",
                     *         "version": "1"
                     *       },
                     *       "openapi": "3.1.0",
                     *       "paths": {}
                     *     }
                     */
                    "application/json": {
                        [key: string]: unknown;
                    };
                };
            };
            500: components["responses"]["InternalError"];
        };
    };
    getReadyz: {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description HTTP 200 */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    /**
                     * @example {
                     *       "status": "ok"
                     *     }
                     */
                    "application/json": {
                        /** @enum {string} */
                        status: "ok";
                    };
                };
            };
            500: components["responses"]["InternalError"];
            /** @description Shutting down (SHUTTING_DOWN), migrations pending (MIGRATIONS_PENDING) or the database unreachable (DATABASE_UNAVAILABLE) */
            503: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
        };
    };
    getVncViewerSessionId: {
        parameters: {
            query?: never;
            header?: never;
            path: {
                /**
                 * @description The session id (a UUID)
                 * @example 770e8400-e29b-41d4-a716-446655440002
                 */
                session_id: string;
            };
            cookie?: never;
        };
        requestBody?: never;
        responses: {
            /** @description Switching Protocols: the WebSocket is open. Close codes: 1000 closed, or the session left running; 1001 the server is shutting down; 1011 agent error or disconnect; 1012 reconnect; 1013 try again in a moment; 4403 the login ended. */
            101: {
                headers: {
                    /** @description Always `Upgrade` */
                    Connection?: "Upgrade";
                    /** @description RFC 6455 handshake answer */
                    "Sec-WebSocket-Accept"?: string;
                    /** @description The selected subprotocol */
                    "Sec-WebSocket-Protocol"?: "binary";
                    /** @description Always `websocket` */
                    Upgrade?: "websocket";
                    [name: string]: unknown;
                };
                content?: never;
            };
            /** @description The viewer page (HTML; strict Content-Security-Policy, no-store) */
            200: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "text/html": string;
                };
            };
            400: components["responses"]["ValidationFailed"];
            /** @description SESSION_NOT_FOUND: the id is not a UUID (whether the session exists is told by the socket, to a token that may see it) */
            404: {
                headers: {
                    [name: string]: unknown;
                };
                content: {
                    "application/json": components["schemas"]["Error"];
                };
            };
            500: components["responses"]["InternalError"];
        };
    };
}
