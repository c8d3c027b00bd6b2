// Starts one OpenSearch node through codelibs' OpenSearchRunner and keeps the JVM alive.
// The runner's own main() swallows startup exceptions with a bare exit(1); this launcher
// prints the full cause to stderr so the runtime can show it next to the log file path.
import org.codelibs.opensearch.runner.OpenSearchRunner;

public final class OpenSearchNode {
    public static void main(String[] args) throws Exception {
        final OpenSearchRunner runner = new OpenSearchRunner();
        // The runner refuses http ports above 9299 unless the probe is off; the runtime picks ports itself.
        runner.setMaxHttpPort(-1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                runner.close();
            } catch (Exception e) {
                e.printStackTrace();
            }
        }));
        try {
            runner.build(args);
        } catch (Throwable t) {
            System.err.println("georeplica: OpenSearch node failed to start");
            t.printStackTrace();
            System.exit(3);
        }
        System.out.println("georeplica: OpenSearch node started");
        while (!runner.isClosed()) {
            Thread.sleep(1000);
        }
    }
}
