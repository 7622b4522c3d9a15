/**
 * Anti-affinity of resilient instance trees: an instance of a tree with clones never goes to a node
 * that holds another member of its tree (the main and each clone on a node of its own), so that the
 * loss of one node never takes two copies of the data.
 */
import type { Repository } from '../storage/repository.ts';

/**
 * The nodes holding the other members of `instanceId`'s resilient tree (empty when it is in none,
 * or its tree has no clones).
 */
export async function otherMemberNodes(
  repository: Pick<
    Repository,
    'getBackupMember' | 'getBackupTree' | 'listBackupMembers' | 'instanceComputeNode'
  >,
  instanceId: number,
): Promise<Set<string>> {
  const nodes = new Set<string>();
  const member = await repository.getBackupMember(instanceId);
  if (!member) return nodes;
  const tree = await repository.getBackupTree(member.rootInstanceId);
  if (!tree || tree.clones === 0) return nodes;
  for (const other of await repository.listBackupMembers(member.rootInstanceId)) {
    if (other.instanceId === instanceId) continue;
    const node = await repository.instanceComputeNode(other.instanceId);
    if (node !== undefined) nodes.add(node);
  }
  return nodes;
}
