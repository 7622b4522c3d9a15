/**
 * slapproxy cannot provide CDN frontends, so it fakes the two well-known frontend software
 * releases (docs/protocol.md §1.8): a shared request for them is answered at once with the
 * backend's own URL and nothing is stored.
 */
import { pyStr } from '../../core/python-value.ts';
import { quoteUrlPart, splitUrl } from '../../core/url-parts.ts';
import type { RequestedState } from '../../core/states.ts';
import { formatInstanceGuid } from '../../core/instance-guid.ts';
import type { InstanceView } from './instance-view.ts';

export const APACHE_FRONTEND_URL =
  'http://git.erp5.org/gitweb/slapos.git/blob_plain/HEAD:/software/apache-frontend/software.cfg';
export const KVM_FRONTEND_URL =
  'http://git.erp5.org/gitweb/slapos.git/blob_plain/refs/tags/slapos-0.92:/software/kvm/software.cfg';

/** How the caller reached the master (honouring X-Forwarded-Proto and X-Forwarded-Prefix). */
export interface RequestOrigin {
  secure: boolean;
  /** Host header value, with the port if any. */
  host: string;
  /** Path prefix the master is mounted under ('' or '/prefix'). */
  prefix: string;
}

export interface BypassRequest {
  title: string;
  requestedBy: string;
  softwareRelease: string;
  softwareType: string;
  parameters: Record<string, unknown>;
  state: RequestedState | undefined;
  origin: RequestOrigin | undefined;
}

function fakeView(
  request: BypassRequest,
  partitionId: string,
  connection: Record<string, unknown>,
): InstanceView {
  return {
    instanceGuid: formatInstanceGuid({
      title: request.title,
      requestedBy: request.requestedBy,
      shared: true,
    }),
    title: request.title,
    requestedBy: request.requestedBy,
    shared: true,
    softwareRelease: request.softwareRelease,
    softwareType: request.softwareType,
    state: request.state ?? 'started',
    connectionParameters: connection,
    parameters: request.parameters,
    ipList: [],
    computeNodeId: '',
    partitionId,
    timestamp: null,
    frontendBypass: true,
  };
}

function apacheFrontend(request: BypassRequest, url: string): InstanceView {
  const parts = splitUrl(url);
  let secureAccess = url;
  let domain = parts.netloc;
  const origin = request.origin;
  if (origin?.secure) {
    // Only rewrite to the master's own reverse proxy when the master itself is reached over https.
    secureAccess =
      `https://${origin.host}${origin.prefix}/http_proxy/${quoteUrlPart(parts.scheme)}/${quoteUrlPart(parts.netloc)}` +
      quoteUrlPart(parts.path) +
      (parts.query ? `?${parts.query}` : '') +
      (parts.fragment ? `#${parts.fragment}` : '');
    domain = origin.host;
  }
  return fakeView(request, `Fake frontend for ${url}`, { secure_access: secureAccess, domain });
}

function kvmFrontend(request: BypassRequest, host: unknown, port: unknown): InstanceView {
  let hostText = pyStr(host);
  // The host is expected to be an IPv6 address without brackets.
  if (hostText.includes(':') && !hostText.startsWith('[')) hostText = `[${hostText}]`;
  const url = `https://${hostText}:${pyStr(port)}/`;
  return fakeView(request, `Fake KVM VNC frontend for ${url}`, {
    url,
    domainname: hostText,
    port,
    path: '/',
  });
}

function truthy(value: unknown): boolean {
  if (value === null || value === undefined || value === false || value === 0 || value === '') return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'object') return Object.keys(value).length > 0;
  return true;
}

/** The fake answer for a shared request of a known frontend, or undefined. */
export function frontendBypass(request: BypassRequest): InstanceView | undefined {
  const { parameters } = request;
  if (
    request.softwareRelease === APACHE_FRONTEND_URL &&
    ['', 'RootSoftwareInstance', 'default'].includes(request.softwareType) &&
    typeof parameters.url === 'string' &&
    parameters.url !== ''
  ) {
    return apacheFrontend(request, parameters.url);
  }
  if (
    request.softwareRelease === KVM_FRONTEND_URL &&
    request.softwareType === 'frontend' &&
    truthy(parameters.host) &&
    truthy(parameters.port)
  ) {
    return kvmFrontend(request, parameters.host, parameters.port);
  }
  return undefined;
}
