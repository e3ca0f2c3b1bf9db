import org.codelibs.opensearch.runner.OpenSearchRunner;

/**
 * One embedded OpenSearch node for voc-pipeline's local stack (no Docker, no tarball).
 *
 * <p>Args: basePath httpPort transportPort clusterName. Binds 127.0.0.1 only; the runner
 * ships no security plugin, so plain HTTP without auth, as a local test node should be.
 * SIGTERM closes the node cleanly (shutdown hook) so its data survives restarts.
 */
public final class VocOpenSearch {
    private VocOpenSearch() {}

    public static void main(String[] args) throws Exception {
        final String basePath = args[0];
        final String httpPort = args[1];
        final String transportPort = args[2];
        final String clusterName = args[3];
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
            settings.put("discovery.type", "single-node");
            settings.putList("node.roles", "cluster_manager", "data", "ingest");
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
