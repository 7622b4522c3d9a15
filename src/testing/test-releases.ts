/**
 * Small software releases for end-to-end tests, written as SlapOS writes them (slapconfiguration,
 * switch-softwaretype, request, publish, wrapper, promises), with no download and no compilation:
 *
 * - `composite`: the `default` type requests a `child` instance of the same release and publishes
 *   the child's URL as `child-url`; the `child` type runs the hello web service of examples/hello.
 *   Parameters: `name` (the child's), `child-node` (its `computer_guid` SLA; none if empty).
 * - `host`: hosts shared instances: its profile is rendered at instance time (Jinja2) from the list
 *   of shared instances, and publishes a URL for each one (`-slave-reference`).
 * - `failing`: a build that prints a few lines then fails.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { packageRoot } from '../lib/package-root.ts';

/** The software.cfg of a release: `instance.cfg` rendered from `instance.cfg.in` at software time. */
const SOFTWARE = `[buildout]
parts = instance-profile

[instance-profile]
recipe = slapos.recipe.template
url = \${:_profile_base_location_}/instance.cfg.in
output = \${buildout:directory}/instance.cfg
release = \${:_profile_base_location_}
`;

const SLAP_CONFIGURATION = `[slap-configuration]
recipe = slapos.cookbook:slapconfiguration
computer = $\${slap-connection:computer-id}
partition = $\${slap-connection:partition-id}
url = $\${slap-connection:server-url}
key = $\${slap-connection:key-file}
cert = $\${slap-connection:cert-file}
configuration.name = World
`;

const COMPOSITE_INSTANCE = `[buildout]
parts = switch-softwaretype

${SLAP_CONFIGURATION}configuration.child-node =

[profiles]
default = \${instance-profile:release}/instance-parent.cfg
child = \${instance-profile:release}/instance-child.cfg

[switch-softwaretype]
recipe = slapos.cookbook:switch-softwaretype
default = profiles:default
child = profiles:child
`;

/** The parent: requests its child (same release, type `child`) and publishes the child's URL. */
const PARENT = `[buildout]
parts = child publish

[child]
<= slap-connection
recipe = slapos.cookbook:request
software-url = \${slap-connection:software-release-url}
software-type = child
name = child-of-\${slap-configuration:instance-title}
config-name = \${slap-configuration:configuration.name}
sla-computer_guid = \${slap-configuration:configuration.child-node}
return = url

[publish]
recipe = slapos.cookbook:publish
child-url = \${child:connection-url}
`;

function childProfile(): string {
  const hello = join(packageRoot(), 'examples', 'hello', 'hello.mjs');
  return `[buildout]
parts = directory port service promise publish

[directory]
recipe = slapos.cookbook:mkdirectory
service = \${buildout:directory}/etc/service
promise = \${buildout:directory}/etc/promise

[port]
recipe = slapos.cookbook:free_port
ip = \${slap-configuration:ipv4-random}
minimum = 8200
maximum = 8300

[service]
recipe = slapos.cookbook:wrapper
command-line = ${process.execPath} ${hello} \${slap-configuration:ipv4-random} \${port:port} \${slap-configuration:configuration.name}
wrapper-path = \${directory:service}/hello

[promise]
recipe = slapos.cookbook:check_port_listening
path = \${directory:promise}/hello
hostname = \${slap-configuration:ipv4-random}
port = \${port:port}

[publish]
recipe = slapos.cookbook:publish
url = http://\${slap-configuration:ipv4-random}:\${port:port}
`;
}

const HOST_INSTANCE = `[buildout]
parts = switch-softwaretype

${SLAP_CONFIGURATION}
[host-profile]
recipe = slapos.recipe.template:jinja2
url = \${instance-profile:release}/instance-host.cfg.jinja2
output = $\${buildout:directory}/instance-host.cfg
context =
  key shared_list slap-configuration:slave-instance-list
  key ip slap-configuration:ipv4-random

[switch-softwaretype]
recipe = slapos.cookbook:switch-softwaretype
default = host-profile:output
`;

/** Rendered at instance time: one publish section per shared instance. */
const HOST_PROFILE = `[buildout]
parts =
  publish
{%- for shared in shared_list %}
  publish-shared-{{ loop.index }}
{%- endfor %}

[publish]
recipe = slapos.cookbook:publish
shared-count = {{ shared_list | length }}
{% for shared in shared_list %}
[publish-shared-{{ loop.index }}]
recipe = slapos.cookbook:publish
-slave-reference = {{ shared['slave_reference'] }}
url = http://{{ ip }}/{{ shared.get('path', 'none') }}
{% endfor %}
`;

const FAILING_SOFTWARE = `[buildout]
parts = compile

[compile]
recipe = plone.recipe.command
stop-on-error = true
command =
  echo "checking for a C compiler... yes"
  echo "configure: error: libfoo >= 1.2 not found"
  exit 3
`;

export interface TestReleases {
  composite: string;
  host: string;
  failing: string;
}

/** Writes the releases under `dir` and returns their URLs (paths of their software.cfg). */
export async function writeTestReleases(dir: string): Promise<TestReleases> {
  const write = async (name: string, files: Record<string, string>): Promise<string> => {
    const root = join(dir, name);
    await mkdir(root, { recursive: true });
    for (const [file, text] of Object.entries(files)) await writeFile(join(root, file), text);
    return join(root, 'software.cfg');
  };
  return {
    composite: await write('composite', {
      'software.cfg': SOFTWARE,
      'instance.cfg.in': COMPOSITE_INSTANCE,
      'instance-parent.cfg': PARENT,
      'instance-child.cfg': childProfile(),
    }),
    host: await write('host', {
      'software.cfg': SOFTWARE,
      'instance.cfg.in': HOST_INSTANCE,
      'instance-host.cfg.jinja2': HOST_PROFILE,
    }),
    failing: await write('failing', { 'software.cfg': FAILING_SOFTWARE }),
  };
}
