import { startRedisCluster } from '@spool/testkit';

/**
 * For the `cluster` vitest project: a real 3-master Redis Cluster started from redis-server on
 * loopback ports, its nodes handed to the test files (which run on it because their project sets
 * SPOOL_TEST_ON_CLUSTER). Each test file still works under its own key prefix.
 */
export default async function setup(): Promise<() => Promise<void>> {
  const cluster = await startRedisCluster({ masters: 3 });
  process.env.SPOOL_TEST_REDIS_CLUSTER_NODES = cluster.nodesEnv;
  return () => cluster.stop();
}
