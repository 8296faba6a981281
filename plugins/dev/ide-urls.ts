import type { PluginContext } from '../../src/plugin-api/index.ts';

export type IdeMode = 'hosted' | 'path';

function sameSite(origin: string, scheme: string, hostname: string): boolean {
  try {
    const url = new URL(origin);
    return url.protocol === `${scheme}:` && url.hostname === hostname;
  } catch {
    return false;
  }
}
type IdeSettings = PluginContext<unknown>['core']['ide'];

/**
 * Where a container's IDE lives as the browser sees it: `dev-<vmid>.<suffix>` (hosted) or
 * `<path host>/__ide/<id>/` (path mode). The scheme and port are `ide.scheme` and
 * `ide.public_port` when set; unset, they are PUBLIC_URL's, so a plain `npm start`
 * (`http://localhost:8080`) hands out `http://dev-<vmid>.localhost:8080/` links that open, and
 * a panel behind TLS (`https://panel.example.com`) hands out `https://dev-<vmid>.<suffix>/`.
 */
export class IdeUrls {
  private readonly hostedEnd: string;
  readonly scheme: 'http' | 'https';
  /** `:8080`, or '' for the scheme's default port. */
  private readonly portPart: string;

  constructor(
    private readonly ide: IdeSettings,
    private readonly publicUrl: string,
  ) {
    this.hostedEnd = `.${ide.suffix}`;
    const base = new URL(publicUrl);
    const publicScheme = base.protocol === 'http:' ? 'http' : 'https';
    this.scheme = ide.scheme ?? publicScheme;
    // PUBLIC_URL's port only goes with PUBLIC_URL's scheme: an https IDE beside an http API on :8080 is on 443.
    const port = ide.public_port ?? (this.scheme === publicScheme && base.port !== '' ? Number(base.port) : null);
    this.portPart = port === null || (this.scheme === 'https' && port === 443) || (this.scheme === 'http' && port === 80) ? '' : `:${port}`;
  }

  /** `dev-7.ide.example.com[:port]`: the Host (and X-Forwarded-Host) of a hosted IDE. */
  hostedHost(vmid: number): string {
    return `dev-${vmid}.${this.ide.suffix}${this.portPart}`;
  }

  hostedOrigin(vmid: number): string {
    return `${this.scheme}://${this.hostedHost(vmid)}`;
  }

  /** Whether a browser Origin is this IDE's own (scheme and hostname; the port is ignored, as for tokens). */
  isHostedOrigin(origin: string, vmid: number): boolean {
    return sameSite(origin, this.scheme, `dev-${vmid}.${this.ide.suffix}`);
  }

  isPathOrigin(origin: string): boolean {
    const base = new URL(this.pathOrigin);
    return sameSite(origin, base.protocol.slice(0, -1), base.hostname);
  }

  /**
   * The vmid of a hosted IDE hostname (lower-case, port already removed), or null. It runs
   * for every request the server gets, so it is string compares: `dev-`, 1 to 9 digits, `.<suffix>`.
   */
  vmidOf(hostname: string): number | null {
    if (!hostname.startsWith('dev-') || !hostname.endsWith(this.hostedEnd)) return null;
    const digits = hostname.slice(4, hostname.length - this.hostedEnd.length);
    if (digits.length === 0 || digits.length > 9) return null;
    for (let i = 0; i < digits.length; i += 1) {
      const c = digits.charCodeAt(i);
      if (c < 48 || c > 57) return null;
    }
    return Number(digits);
  }

  /** The host path mode is served on: the configured tunnel host, else PUBLIC_URL's. */
  get pathHost(): string {
    return (this.ide.path_mode_host ?? new URL(this.publicUrl).host).toLowerCase();
  }

  get pathOrigin(): string {
    return this.ide.path_mode_host ? `${this.scheme}://${this.pathHost}` : new URL(this.publicUrl).origin;
  }

  get pathModeEnabled(): boolean {
    return this.ide.path_mode_enabled;
  }

  /** The link the portal opens: hosted unless configured otherwise (or hosted is impossible). */
  linkFor(instanceId: string, vmid: number, token: string): { url: string; mode: IdeMode; host: string } {
    const query = `?ide_token=${encodeURIComponent(token)}`;
    // Tokens are bound to the hostname; the port is ignored (API.md), as proxies may change it.
    if (this.ide.return_hosted_url || !this.ide.path_mode_enabled) return { url: `${this.hostedOrigin(vmid)}/${query}`, mode: 'hosted', host: `dev-${vmid}.${this.ide.suffix}` };
    return { url: `${this.pathOrigin}/__ide/${instanceId}/${query}`, mode: 'path', host: this.pathHost.split(':')[0] as string };
  }
}
