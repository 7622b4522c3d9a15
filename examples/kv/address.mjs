// The address the service listens on: the partition's IPv4 address, or its IPv6 address when it has
// none (`ip`; `host` is the same, bracketed for IPv6, for URLs). Option `parameters`: the
// slapconfiguration section.
export async function init(ctx) {
  const parameters = await ctx.section(ctx.options.require('parameters'));
  const ipv4 = parameters.get('ipv4-random');
  const ipv6 = parameters.get('ipv6-random');
  const ip = ipv4 || ipv6;
  if (!ip) throw ctx.error('the partition has no IPv4 or IPv6 address', { option: 'parameters' });
  ctx.options.set('ip', ip);
  ctx.options.set('host', ipv4 ? ip : `[${ip}]`);
}

export function install() {
  return [];
}

export function update() {}
