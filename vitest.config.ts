import { defineConfig } from 'vitest/config';

/**
 * The end-to-end suites that run a second time on a real Redis Cluster (project `cluster`).
 * Left out: redis-restart (it is about one Redis restarting; the cluster's own fault test is
 * test/cluster-failover.test.ts) and faults (worker kills wait out BullMQ's 15 s stall
 * detection, which is the same on either Redis, and would add a minute).
 */
export const CLUSTER_E2E = [
  'test/responses.e2e.test.ts',
  'test/lifecycle.e2e.test.ts',
  'test/approvals.e2e.test.ts',
  'test/mcp.e2e.test.ts',
  'test/chat-completions.e2e.test.ts',
  'test/auth.e2e.test.ts',
  'test/webhooks.e2e.test.ts',
  'test/retention.e2e.test.ts',
];

export default defineConfig({
  test: {
    // Integration suites start servers and talk to a real Redis: give them room, but keep
    // files isolated (each test file uses its own key prefix and BullMQ prefix).
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'redis',
          include: ['packages/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'test/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'cluster',
          include: CLUSTER_E2E,
          env: { SPOOL_TEST_ON_CLUSTER: '1' },
          globalSetup: ['test/support/global-setup-cluster.ts'],
        },
      },
    ],
  },
});
