/**
 * The scale benchmark's cloud, loaded in bulk straight into a master's SQLite database (not through
 * the API: a million partitions through the API would take hours): N compute nodes of P partitions
 * (an IPv4 and an IPv6 address each), two software releases supplied to each node, and I instances
 * in trees of four (a root and three children, each child requested by the root's partition),
 * spread over the nodes so that every node holds about I/N of them in its first partitions. The
 * schema is the master's own (the store is opened once, which runs the migrations); the rows are
 * the ones the services would write (parameters as parameter XML, SLA as Python JSON, a timestamp
 * and a revision bumped by each allocation).
 */
import BetterSqlite3 from 'better-sqlite3';
import { encodeParameterXml } from '../src/core/parameter-xml.ts';
import { storableSlaJson } from '../src/master/services/stored-parameters.ts';
import { openSqliteStore } from '../src/master/storage/sqlite-store.ts';

export interface CloudShape {
  nodes: number;
  partitions: number;
  instances: number;
}

/** The software release every node has, which the benchmark's requests ask for. */
export const SCALE_SOFTWARE = 'https://lab.example.com/software/hello/software.cfg';
const OTHER_SOFTWARE = ['kvm', 'erp5', 're6stnet', 'theia'].map(
  (name) => `https://lab.example.com/software/${name}/software.cfg`,
);
export const TREE_SIZE = 4;

export function nodeReference(index: number): string {
  return `node-${String(index).padStart(5, '0')}`;
}

/** Where the loaded instance `index` is: its node and partition slot. */
export function placeOf(shape: CloudShape, index: number): { node: number; slot: number } {
  return { node: index % shape.nodes, slot: Math.floor(index / shape.nodes) };
}

/** The title of loaded instance `index`, and of its tree's root ('' for a root). */
export function titleOf(index: number): { title: string; requestedBy: string } {
  const root = index - (index % TREE_SIZE);
  const rootTitle = `tree-${root}`;
  return index === root
    ? { title: rootTitle, requestedBy: '' }
    : { title: `${rootTitle}-part-${index - root}`, requestedBy: rootTitle };
}

/** Parameters as a real instance has them: a few strings and a serialised `_` dictionary. */
export function instanceParameters(index: number, generation: number): Record<string, string> {
  return {
    _: JSON.stringify({
      'frontend-name': `site-${index}`,
      replicas: 1 + (index % 3),
      'monitor-interface-url': 'https://monitor.app.example.com',
      generation,
    }),
    'instance-name': `instance ${index}`,
    port: String(8000 + (index % 1000)),
    region: ['eu-west', 'eu-central', 'asia-east'][index % 3] ?? '',
  };
}

/** One table's rows, in batches: what a database's bulk loader receives. */
export interface RowBatch {
  table:
    | 'compute_node'
    | 'compute_node_revision'
    | 'partition'
    | 'partition_address'
    | 'software_installation'
    | 'instance';
  columns: readonly string[];
  rows: unknown[][];
}

const BATCH_ROWS = 5000;

/**
 * The cloud's rows, table by table in batches of BATCH_ROWS, in the order of their foreign keys;
 * instance ids are row order (1, 2, …) in a fresh database.
 */
export function* cloudRows(shape: CloudShape): Generator<RowBatch> {
  if (shape.instances > shape.nodes * shape.partitions)
    throw new Error(
      `${shape.instances} instances do not fit in ${shape.nodes * shape.partitions} partitions`,
    );
  const now = Date.now() / 1000 - 86_400;
  const busySlots = Math.ceil(shape.instances / shape.nodes);
  function* batches(
    table: RowBatch['table'],
    columns: readonly string[],
    rows: Iterable<unknown[]>,
  ): Generator<RowBatch> {
    let batch: unknown[][] = [];
    for (const row of rows) {
      batch.push(row);
      if (batch.length === BATCH_ROWS) {
        yield { table, columns, rows: batch };
        batch = [];
      }
    }
    if (batch.length > 0) yield { table, columns, rows: batch };
  }
  const eachNode = function* <T>(make: (node: number, reference: string) => Iterable<T>): Generator<T> {
    for (let node = 0; node < shape.nodes; node++) yield* make(node, nodeReference(node));
  };
  yield* batches(
    'compute_node',
    ['reference', 'address', 'netmask', 'created_at'],
    eachNode((node, reference) => [
      [reference, `10.${(node >> 8) & 255}.${node & 255}.254`, '255.255.255.0', now],
    ]),
  );
  yield* batches(
    'compute_node_revision',
    ['compute_node_reference', 'revision'],
    eachNode((_, reference) => [[reference, 1]]),
  );
  yield* batches(
    'partition',
    ['compute_node_reference', 'reference', 'slap_state', 'timestamp'],
    eachNode(function* (node, reference) {
      for (let slot = 0; slot < shape.partitions; slot++) {
        const busy = slot < busySlots && slot * shape.nodes + node < shape.instances;
        yield [reference, `slappart${slot}`, busy ? 'busy' : 'free', busy ? now : null];
      }
    }),
  );
  yield* batches(
    'partition_address',
    ['compute_node_reference', 'partition_reference', 'network_interface', 'address', 'netmask'],
    eachNode(function* (node, reference) {
      const v4 = `10.${(node >> 8) & 255}.${node & 255}`;
      const v6 = `fd00:${node.toString(16)}`;
      for (let slot = 0; slot < shape.partitions; slot++) {
        const partition = `slappart${slot}`;
        yield [reference, partition, `slaptap${slot}`, `${v4}.${slot + 1}`, '255.255.255.0'];
        yield [
          reference,
          partition,
          `slaptap${slot}`,
          `${v6}::${(slot + 1).toString(16)}`,
          'ffff:ffff:ffff:ffff::',
        ];
      }
    }),
  );
  yield* batches(
    'software_installation',
    ['compute_node_reference', 'url', 'requested_state', 'reported_state', 'reported_at'],
    eachNode((node, reference) => [
      [reference, SCALE_SOFTWARE, 'available', 'available', now],
      [reference, OTHER_SOFTWARE[node % OTHER_SOFTWARE.length] ?? '', 'available', 'available', now],
    ]),
  );
  yield* batches(
    'instance',
    [
      'owner',
      'title',
      'requested_by',
      'shared',
      'software_release',
      'software_type',
      'parameter_xml',
      'sla_json',
      'requested_state',
      'connection_xml',
      'compute_node_reference',
      'partition_reference',
      'reported_state',
      'reported_at',
      'created_at',
      'updated_at',
      'requester_node',
      'requester_partition',
    ],
    (function* () {
      for (let index = 0; index < shape.instances; index++) {
        const { node, slot } = placeOf(shape, index);
        const reference = nodeReference(node);
        const { title, requestedBy } = titleOf(index);
        const root = placeOf(shape, index - (index % TREE_SIZE));
        const connection = encodeParameterXml({
          url: `https://[fd00:${node.toString(16)}::${(slot + 1).toString(16)}]:8080/`,
          'monitor-base-url': `https://[fd00:${node.toString(16)}::1]:8196/`,
          password: `pw${((index * 2654435761) >>> 0).toString(36)}`,
        });
        yield [
          '',
          title,
          requestedBy,
          0,
          SCALE_SOFTWARE,
          requestedBy === '' ? 'default' : 'worker',
          encodeParameterXml(instanceParameters(index, 0)),
          storableSlaJson(requestedBy === '' ? { computer_guid: reference } : {}),
          index % 10 === 9 ? 'stopped' : 'started',
          connection,
          reference,
          `slappart${slot}`,
          'started',
          now,
          now,
          now,
          requestedBy === '' ? null : nodeReference(root.node),
          requestedBy === '' ? null : `slappart${root.slot}`,
        ];
      }
    })(),
  );
}

/** Creates the SQLite database at `path` (which must not exist) and fills it with the cloud. */
export async function loadCloud(path: string, shape: CloudShape): Promise<void> {
  // The master's own migrations make the schema.
  await (await openSqliteStore({ path })).close();
  const db = new BetterSqlite3(path);
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.pragma('cache_size = -262144');
    const statements = new Map<string, BetterSqlite3.Statement>();
    db.transaction(() => {
      for (const { table, columns, rows } of cloudRows(shape)) {
        let statement = statements.get(table);
        if (!statement) {
          statement = db.prepare(
            `INSERT INTO "${table}" (${columns.map((column) => `"${column}"`).join(', ')}) ` +
              `VALUES (${columns.map(() => '?').join(', ')})`,
          );
          statements.set(table, statement);
        }
        for (const row of rows) statement.run(...row);
      }
    })();
    db.pragma('journal_mode = WAL');
  } finally {
    db.close();
  }
}
