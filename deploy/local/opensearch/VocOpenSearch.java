import org.codelibs.opensearch.runner.OpenSearchRunner;

/**
 * One embedded OpenSearch node for voc-pipeline's local stack (no Docker, no tarball).
 *
 * <p>Args: basePath httpPort transportPort clusterName [nodeName seedHosts initialManagers roles].
 * With only the first four it is a single-node cluster. The optional four make it one node of
 * a multi-node cluster (the scale tests): seedHosts are comma-separated host:transportPort,
 * initialManagers the comma-separated names of the cluster-manager-eligible nodes that
 * bootstrap the cluster ("-" on a node that is not eligible), roles its comma-separated roles.
 * Binds 127.0.0.1 only; the runner ships no security plugin, so plain HTTP without auth, as
 * a local test node should be.
 * SIGTERM closes the node cleanly (shutdown hook) so its data survives restarts.
 */
public final class VocOpenSearch {
    private VocOpenSearch() {}

    public static void main(String[] args) throws Exception {
        final String basePath = args[0];
        final String httpPort = args[1];
        final String transportPort = args[2];
        final String clusterName = args[3];
        final boolean multiNode = args.length >= 8;
        final OpenSearchRunner runner = new OpenSearchRunner();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (Exception e) {
                e.printStackTrace();
            }
        }));
        runner.onBuild((number, settings) -> {
            settings.put("http.port", httpPort);
            settings.put("transport.port", transportPort);
            settings.put("network.host", "127.0.0.1");
            if (multiNode) {
                settings.put("node.name", args[4]);
                settings.put("discovery.type", "zen");  // the runner's opensearch.yml says single-node
                settings.putList("discovery.seed_hosts", args[5].split(","));
                if (!"-".equals(args[6])) {
                    settings.putList("cluster.initial_cluster_manager_nodes", args[6].split(","));
                }
                settings.putList("node.roles", args[7].split(","));
            } else {
                settings.put("discovery.type", "single-node");
                settings.putList("node.roles", "cluster_manager", "data", "ingest");
            }
            settings.put("cluster.routing.allocation.disk.threshold_enabled", "false");
        });
        try {
            runner.build(OpenSearchRunner.newConfigs()
                .basePath(basePath).numOfNode(1).clusterName(clusterName));
        } catch (RuntimeException e) {
            e.printStackTrace();
            System.exit(1);
        }
        runner.ensureYellow();
        System.out.println("VOC_OPENSEARCH_READY http://127.0.0.1:" + httpPort);
        Thread.currentThread().join();
    }
}
